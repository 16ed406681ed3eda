/**
 * Memory under a long run: 10,000,000 events from 1,000,000 distinct peer
 * addresses through the in-process pipeline (embedded bus → metrics, peers
 * table, recent-events ring and the detectors with their alert manager), the
 * consumers `run --http` starts. RSS must stay flat after warm-up (target:
 * < 10 % growth from the end of warm-up to the end).
 *
 *   npm run bench:memory                    # the full run
 *   npm run bench:memory -- --peers 100000  # a shorter one (10 events per peer)
 *   npm run bench:memory -- --no-detectors  # the HTTP consumers alone
 *
 * Peers come in waves of 1,000 open at once; each produces ten events (open,
 * version message and facts, handshake, addrv2 with fresh addresses, inv, ping,
 * pong, latency, close). Event time advances 10 s per wave, so time-windowed
 * state is exercised as in a real run. After every 500,000 events it collects
 * garbage and prints RSS and heap.
 */
import { EmbeddedBus } from '../src/bus/embedded.js';
import { startDetectors } from '../src/consumers/detectors/engine.js';
import { buildDetectors } from '../src/consumers/detectors/index.js';
import { startMetrics } from '../src/consumers/metrics/metrics.js';
import { startPeersTable } from '../src/consumers/peers/table.js';
import { startRecentEvents } from '../src/consumers/recent/ring.js';
import { makeEvent } from '../src/events/envelope.js';
import type { ConnRef, ObserverEvent } from '../src/events/types.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const PEERS = arg('--peers', 1_000_000);
const WAVE = 1_000;
const EVENTS_PER_PEER = 10;
const SAMPLE_EVERY = arg('--sample-every', 500_000);
const WARMUP_FRACTION = 0.2;
const DETECTORS = !args.includes('--no-detectors');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc (npm run bench:memory does)');
  process.exit(2);
}

const origin = { nodeId: 'bench', source: 'p2p' };
const UAS = ['/Satoshi:27.1.0/', '/Satoshi:28.0.0/', '/Satoshi:26.2.0/', '/btcd:0.24.2/'];

/** A distinct address for peer i: spread over many /16s, as the real network is. */
function address(i: number): string {
  return `${1 + ((i >>> 16) % 220)}.${(i >>> 8) & 0xff}.${i & 0xff}.${(i * 7) % 250}`;
}

function peerEvents(i: number, t0: number): ObserverEvent[] {
  const ip = address(i);
  const conn: ConnRef = { id: i, direction: i % 8 === 0 ? 'outbound' : 'inbound', remote: `${ip}:8333` };
  const netgroup = `${ip.split('.').slice(0, 2).join('.')}.0.0/16`;
  const sec = Math.floor(t0 / 1e6);
  const ev = (type: ObserverEvent['type'], data: unknown, dtMs: number) =>
    makeEvent(origin, type, data as never, t0 + dtMs * 1000) as ObserverEvent;
  return [
    ev('connection.opened', { conn, local: '10.0.0.1:8333', network: 'mainnet', netgroup, transport: 'v1' }, 0),
    ev('message', { conn, dir: 'in', command: 'version', size: 102, known: true, payload: {} }, 50),
    ev(
      'handshake.version',
      {
        conn,
        version: 70016,
        services: '3081',
        serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED', 'NODE_P2P_V2'],
        userAgent: i % 50 === 0 ? `/fake:${i}/` : UAS[i % UAS.length]!,
        startHeight: 850_000,
        relay: true,
        nonce: String(i * 2654435761),
        timeOffsetSec: (i % 5) - 2,
        receiver: '10.0.0.1:8333',
        sender: null,
      },
      50,
    ),
    ev('handshake.complete', { conn, elapsedMs: 120, wtxidRelay: true, addrV2: true }, 120),
    ev(
      'message',
      {
        conn,
        dir: 'in',
        command: 'addrv2',
        size: 24,
        known: true,
        payload: {
          count: 2,
          entries: [
            { time: sec - 120, services: '1033', network: 'ipv4', addr: address(i + 7_777_777), port: 8333 },
            { time: sec - 3600, services: '1033', network: 'ipv4', addr: address(i + 3_333_333), port: 8333 },
          ],
        },
      },
      900,
    ),
    ev('message', { conn, dir: 'in', command: 'inv', size: 37, known: true, payload: { count: 1, types: { wtx: 1 }, items: [] } }, 1500),
    ev('message', { conn, dir: 'out', command: 'ping', size: 8, known: true, payload: { nonce: String(i) } }, 2000),
    ev('message', { conn, dir: 'in', command: 'pong', size: 8, known: true, payload: { nonce: String(i) } }, 2040),
    ev('ping.latency', { conn, nonce: String(i), latencyMs: 40 }, 2040),
    ev(
      'connection.closed',
      {
        conn,
        network: 'mainnet',
        netgroup,
        reason: 'peer-closed',
        detail: 'closed',
        durationMs: 9000,
        handshakeComplete: true,
        bytesIn: 400,
        bytesOut: 300,
        messagesIn: 4,
        messagesOut: 2,
      },
      9000,
    ),
  ];
}

function mb(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

async function main(): Promise<void> {
  const bus = new EmbeddedBus();
  const metrics = startMetrics(bus);
  const peers = startPeersTable(bus);
  const recent = startRecentEvents(bus);
  const config = buildDetectors();
  const detectors = DETECTORS
    ? startDetectors(bus, { detectors: config.detectors, alerts: config.alerts, origin: { nodeId: 'bench', source: 'detectors' } })
    : undefined;
  const consumers = `metrics, peers table, recent events${detectors ? `, ${config.detectors.length} detectors` : ''}`;
  const total = PEERS * EVENTS_PER_PEER;
  console.log(`bench:memory: ${total.toLocaleString('en')} events from ${PEERS.toLocaleString('en')} distinct peers -> ${consumers}`);
  console.log('events       rss MB   heap MB   elapsed s');

  const samples: { events: number; rss: number; heap: number }[] = [];
  const started = performance.now();
  const sample = (events: number) => {
    gc!();
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ events, rss, heap: heapUsed });
    console.log(
      `${events.toLocaleString('en').padStart(11)}  ${mb(rss).padStart(7)}  ${mb(heapUsed).padStart(8)}  ${((performance.now() - started) / 1000).toFixed(1).padStart(9)}`,
    );
  };

  let published = 0;
  let nextSample = SAMPLE_EVERY;
  // From now on: closed peers stay in the peers table until its cap evicts them (the worst case for its memory).
  const t0 = Date.now() * 1000;
  for (let wave = 0; wave * WAVE < PEERS; wave++) {
    const lives: ObserverEvent[][] = [];
    for (let k = 0; k < WAVE && wave * WAVE + k < PEERS; k++) {
      const i = wave * WAVE + k;
      lives.push(peerEvents(i, t0 + wave * 10_000_000 + k * 5_000));
    }
    // Interleave: every peer's first event, then every peer's second, ... (1,000 connections open at once).
    for (let j = 0; j < EVENTS_PER_PEER; j++) {
      for (const life of lives) bus.publish(life[j]!);
      published += lives.length;
    }
    await bus.drain();
    if (published >= nextSample) {
      sample(published);
      nextSample += SAMPLE_EVERY;
    }
  }
  await bus.drain();
  if (samples.at(-1)?.events !== published) sample(published);
  const busStats = bus.stats();
  await detectors?.stop();
  await bus.close();
  await Promise.all([metrics.done, peers.done, recent.done]);

  const warm = samples.find((s) => s.events >= total * WARMUP_FRACTION) ?? samples[0]!;
  const after = samples.filter((s) => s.events >= warm.events);
  const last = samples.at(-1)!;
  const peak = Math.max(...after.map((s) => s.rss));
  const growth = (last.rss - warm.rss) / warm.rss;
  const peakGrowth = (peak - warm.rss) / warm.rss;
  const secs = (performance.now() - started) / 1000;
  console.log('');
  console.log(
    `after warm-up (${warm.events.toLocaleString('en')} events): rss ${mb(warm.rss)} MB; at the end ${mb(last.rss)} MB; peak ${mb(peak)} MB`,
  );
  console.log(`growth after warm-up: ${(growth * 100).toFixed(1)} % (peak ${(peakGrowth * 100).toFixed(1)} %), target < 10 %`);
  console.log(
    `bus: published ${busStats.published.toLocaleString('en')}, dropped ${busStats.dropped}; peers table ${JSON.stringify(peers.table.stats())}; ` +
      `metrics untracked ${metrics.metrics.untracked}; ${(total / secs / 1000).toFixed(0)}k events/s`,
  );
  process.exitCode = peakGrowth < 0.1 && busStats.dropped === 0 ? 0 : 1;
}

await main();
