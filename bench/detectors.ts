/**
 * Detector throughput, per detector and all together: bench/memory's realistic
 * peer mix (ten events per peer, waves of 1,000 open at once, 10 s of event
 * time per wave) fed straight to a DetectorEngine (no bus), each detector alone
 * with its own alert manager and then all eleven with one. A tick per wave (as
 * the engine's one-second timer would, at least as often).
 *
 *   npm run bench:detectors                      # 200,000 peers (2,000,000 events)
 *   npm run bench:detectors -- --peers 1000000   # bench/memory's size
 *
 * Columns: events the detector subscribes to (its share of the mix), its time,
 * and its throughput over the whole mix (mix events per second of its CPU time:
 * the rate of the mix it alone could keep up with). The detectors share one
 * thread, so their costs add up: the `all` row is what bounds the observer.
 */
import { AlertManager } from '../src/consumers/alerts/manager.js';
import { DetectorEngine } from '../src/consumers/detectors/engine.js';
import { buildDetectors } from '../src/consumers/detectors/index.js';
import type { Detector } from '../src/consumers/detectors/types.js';
import type { ObserverEvent } from '../src/events/types.js';
import { EVENTS_PER_PEER, peerEvents } from './lib/peer-mix.js';
import { fmt, machine, table } from './lib/stats.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const PEERS = arg('--peers', 200_000);
const WAVE = 1_000;

interface Result {
  name: string;
  delivered: number;
  seconds: number;
  tracked: number;
  evicted: number;
  alerts: number;
}

function run(name: string, detectors: Detector[], alerts: ConstructorParameters<typeof AlertManager>[2]): Result {
  const manager = new AlertManager({ nodeId: 'bench', source: 'detectors' }, () => {}, alerts);
  const engine = new DetectorEngine(detectors, manager);
  const wanted = new Set(engine.eventTypes);
  const t0 = Date.now() * 1000;
  let delivered = 0;
  let ns = 0n;
  for (let wave = 0; wave * WAVE < PEERS; wave++) {
    const lives: ObserverEvent[][] = [];
    for (let k = 0; k < WAVE && wave * WAVE + k < PEERS; k++) {
      const i = wave * WAVE + k;
      lives.push(peerEvents(i, t0 + wave * 10_000_000 + k * 5_000));
    }
    const start = process.hrtime.bigint();
    for (let j = 0; j < EVENTS_PER_PEER; j++) {
      for (const life of lives) {
        const e = life[j]!;
        if (!wanted.has(e.type)) continue;
        delivered++;
        engine.process(e);
      }
    }
    engine.tick(t0 + (wave + 1) * 10_000_000);
    ns += process.hrtime.bigint() - start;
  }
  let tracked = 0;
  let evicted = 0;
  for (const d of detectors) {
    const s = d.stats();
    tracked += s.tracked;
    evicted += s.evicted;
  }
  return { name, delivered, seconds: Number(ns) / 1e9, tracked, evicted, alerts: manager.store.alerts().length };
}

async function main(): Promise<void> {
  const m = await machine();
  const total = PEERS * EVENTS_PER_PEER;
  console.log(
    `bench:detectors: ${total.toLocaleString('en')} events from ${PEERS.toLocaleString('en')} peers; ${m.cpu}, ${m.nproc} CPUs, node ${m.node}, load ${m.load.toFixed(2)}`,
  );
  const results: Result[] = [];
  const names = buildDetectors().detectors.map((d) => d.name);
  for (const name of names) {
    const config = buildDetectors(Object.fromEntries(names.filter((n) => n !== name).map((n) => [n, false])));
    results.push(run(name, config.detectors, config.alerts));
  }
  const all = buildDetectors();
  results.push(run(`all ${all.detectors.length} + alert manager`, all.detectors, all.alerts));
  console.log('');
  console.log(
    table(
      ['detector', 'events in', 'share', 'seconds', 'mix events/s', 'tracked', 'evicted', 'alerts'],
      results.map((r) => [
        r.name,
        r.delivered.toLocaleString('en'),
        `${fmt((r.delivered / total) * 100, 0)} %`,
        fmt(r.seconds, 2),
        `${fmt(total / r.seconds / 1000, 0)}k`,
        r.tracked.toLocaleString('en'),
        r.evicted.toLocaleString('en'),
        String(r.alerts),
      ]),
    ),
  );
}

await main();
