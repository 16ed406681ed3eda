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
 * state is exercised as in a real run. After every wave the loop yields to the
 * event loop (a macrotask), as a live source does between socket reads: the
 * detector engine's once-a-second tick (which resolves quiet alerts) is a timer,
 * and awaiting only `bus.drain()` (promises) would starve it for the whole run,
 * leaving every alert active. After every 500,000 events it collects garbage
 * and prints RSS, heap and the alert store's sizes.
 */
import { EmbeddedBus } from '../src/bus/embedded.js';
import { startDetectors } from '../src/consumers/detectors/engine.js';
import { buildDetectors } from '../src/consumers/detectors/index.js';
import { startMetrics } from '../src/consumers/metrics/metrics.js';
import { startPeersTable } from '../src/consumers/peers/table.js';
import { startRecentEvents } from '../src/consumers/recent/ring.js';
import type { ObserverEvent } from '../src/events/types.js';
import { EVENTS_PER_PEER, peerEvents } from './lib/peer-mix.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const PEERS = arg('--peers', 1_000_000);
const WAVE = 1_000;
const SAMPLE_EVERY = arg('--sample-every', 500_000);
const WARMUP_FRACTION = 0.2;
const DETECTORS = !args.includes('--no-detectors');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc (npm run bench:memory does)');
  process.exit(2);
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
  console.log(`events       rss MB   heap MB   elapsed s${detectors ? '   alerts (active)  incidents' : ''}`);

  const samples: { events: number; rss: number; heap: number }[] = [];
  const started = performance.now();
  const sample = (events: number) => {
    gc!();
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ events, rss, heap: heapUsed });
    const z = detectors?.manager.sizes();
    const store = z ? `  ${`${z.alerts} (${z.active})`.padStart(15)}  ${String(z.incidents).padStart(9)}` : '';
    console.log(
      `${events.toLocaleString('en').padStart(11)}  ${mb(rss).padStart(7)}  ${mb(heapUsed).padStart(8)}  ${((performance.now() - started) / 1000).toFixed(1).padStart(9)}${store}`,
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
    await new Promise<void>((resolve) => setImmediate(resolve));
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
  if (detectors) {
    const c = detectors.manager.counters();
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const raised = Object.values(c.raised).reduce((a, r) => a + sum(r as Record<string, number>), 0);
    console.log(
      `alerts: raised ${raised}, resolved ${sum(c.resolved)}, store evicted ${c.storeEvicted}; store at the end ${JSON.stringify(detectors.manager.sizes())}`,
    );
  }
  process.exitCode = peakGrowth < 0.1 && busStats.dropped === 0 ? 0 : 1;
}

await main();
