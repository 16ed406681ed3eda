/**
 * bench/pipeline: events/s and latency (publish timestamp → consumer receipt)
 * through the buses, with realistic events: message events built from the
 * codec corpus (Bitcoin Core recordings + generated traffic) with their JSON
 * summaries, one in `--raw-every` also carrying the raw payload (base64).
 *
 *   npm run bench:pipeline -- [--kind message|ping] [--events 200000] [--rate 20000] [--paced-seconds 3] [--raw-every 10]
 *     [--only embedded,nats,jetstream,jsarchive,archive] [--encodings msgpack,json] [--batch-bytes N]
 *
 * Paths: embedded bus → a consumer in this process; NATS (a real nats-server
 * started here) → a NatsBus consumer in another process (bench/lib/nats-consumer.ts);
 * embedded bus → the SQLite archive (src/consumers/archive); JetStream (the same server with -js):
 * a durable consumer process (`jetstream`), and the archive process as `archive --nats` runs it (`jsarchive`,
 * bench/lib/archive-consumer.ts: durable consumer → SQLite, acknowledged after each commit). Each is run
 * saturated (1000 events per loop turn, as fast as the path takes them: the
 * NATS publisher waits while 50,000 are unacknowledged, the archive's until
 * the archive has taken each 1000, so no bounded buffer overflows) and, except the
 * archive, paced at `--rate`. Latency is receipt time minus the
 * event's timeUs, set at publish; for the archive it is the commit time of
 * each batch's last event. Prints a table and one `BENCH_JSON ` line.
 * A benchmark script, never a test: nothing here asserts a time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EmbeddedBus } from '../src/bus/embedded.js';
import { NatsBus } from '../src/bus/nats.js';
import type { BatchEncoding } from '../src/bus/seq.js';
import { startArchive } from '../src/consumers/archive/consumer.js';
import { nowUs } from '../src/events/envelope.js';
import type { ObserverEvent } from '../src/events/types.js';
import { encodeEvent } from '../src/events/wire.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { realisticMessageEvents } from './lib/realistic-events.js';
import { fmt, machine, table } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '20000' },
    'paced-seconds': { type: 'string', default: '3' },
    'raw-every': { type: 'string', default: '10' },
    only: { type: 'string' },
    /** `message` (realistic, default) or `ping` (small ping.latency events: the transport without the schema's cost). */
    kind: { type: 'string', default: 'message' },
    /** NATS batch encodings to measure, in this order: `msgpack` (v2, the default), `json` (v1). */
    encodings: { type: 'string', default: 'msgpack,json' },
    /** The publisher's batchBytes (src/bus/nats.ts DEFAULT_BATCH_BYTES when not given). */
    'batch-bytes': { type: 'string' },
    /** nats-server's log file for the JetStream runs (slow consumers and other warnings show there). */
    'server-log': { type: 'string' },
    /** Extra node flags for the NATS consumer process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
    'consumer-node-args': { type: 'string', default: '' },
  },
});
const N = Number(opts.events);
const RATE = Number(opts.rate);
const PACED = Math.round(RATE * Number(opts['paced-seconds']));
const RAW_EVERY = Number(opts['raw-every']);
const CHUNK = 1000;

// ---- events -----------------------------------------------------------------

const pool: ObserverEvent[] = realisticMessageEvents(RAW_EVERY);
if (opts.kind === 'ping') {
  pool.length = 0;
  for (let k = 0; k < 1000; k++) {
    pool.push({
      v: 1,
      type: 'ping.latency',
      nodeId: 'bench',
      timeUs: 0,
      source: 'p2p',
      data: { conn: { id: k, direction: 'inbound', remote: `198.51.100.${k % 250}:8333` }, nonce: '18446744073709551615', latencyMs: 1.5 },
    });
  }
}
const poolBytes = pool.reduce((s, e) => s + encodeEvent(e).length, 0);
const withRaw = pool.filter((e) => e.type === 'message' && e.data.raw !== undefined).length;

const stamp = (k: number): ObserverEvent => ({ ...pool[k % pool.length]!, timeUs: nowUs() });
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Publish `count` events: saturated (CHUNK per loop turn) or paced at `rate`/s.
 * Saturated with `backlog` (events published but not yet taken downstream),
 * it waits while the backlog is at `maxAhead` or more: as fast as the path
 * takes them, without overflowing its bounded buffers (which would count drops
 * and make the rate one of dropping). Returns the first publish time.
 */
async function publishAll(
  publish: (e: ObserverEvent) => void,
  count: number,
  rate?: number,
  backlog?: { events: () => number; maxAhead: number },
): Promise<number> {
  const t0 = nowUs();
  for (let k = 0; k < count;) {
    if (rate) {
      const due = Math.min(count, Math.floor(((nowUs() - t0) / 1e6) * rate) + 1);
      for (; k < due; k++) publish(stamp(k));
      await new Promise((r) => setTimeout(r, 1));
    } else {
      for (const end = Math.min(count, k + CHUNK); k < end; k++) publish(stamp(k));
      await turn();
      while (backlog && backlog.events() >= backlog.maxAhead) await new Promise((r) => setTimeout(r, 1));
    }
  }
  return t0;
}

interface Result {
  path: string;
  mode: string;
  events: number;
  delivered: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  note: string;
}

function percentiles(lat: Float64Array, n: number): { p50: number; p99: number; max: number } {
  const s = lat.subarray(0, n).sort();
  const at = (p: number) => (n ? s[Math.min(n - 1, Math.floor(p * n))]! : NaN);
  return { p50: at(0.5), p99: at(0.99), max: n ? s[n - 1]! : NaN };
}

async function embedded(count: number, rate?: number): Promise<Result> {
  const bus = new EmbeddedBus({ maxQueue: 10_000_000 });
  const sub = bus.subscribe();
  const lat = new Float64Array(count);
  let n = 0;
  let last = 0;
  const consumer = (async () => {
    for await (const e of sub) {
      last = nowUs();
      lat[n++] = last - e.timeUs;
      if (n === count) break;
    }
  })();
  const t0 = await publishAll((e) => bus.publish(e), count, rate);
  await consumer;
  await bus.close();
  const p = percentiles(lat, n);
  return row('embedded → consumer', rate, count, n, t0, last, p, `dropped ${bus.stats().dropped}`);
}

async function archive(count: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'po-bench-archive-'));
  try {
    const bus = new EmbeddedBus({ maxQueue: 10_000_000 });
    const lat: number[] = [];
    let last = 0;
    const started = performance.now();
    const a = startArchive(bus, {
      dataDir: dir,
      maxQueue: 10_000_000,
      // Storage throughput, every event a row (folding would make a fast stream from few connections cheaper).
      foldRate: 0,
      onCommit: ({ last: e }) => {
        last = nowUs();
        lat.push(last - e.timeUs);
      },
    });
    // The writer thread's start (~0.2 s) is not part of the rate, as opening the file was not before it had a thread.
    await a.ready;
    const startMs = performance.now() - started;
    // Saturated, as replay --speed max: 1000 events per turn, then wait for the archive to take them. The writer
    // thread is never idle for want of events, and the queue does not grow to the whole run (GC here, and a latency
    // that would be only queueing), as it would with publishAll now that the archive's commits run on another thread.
    const t0 = nowUs();
    for (let k = 0; k < count;) {
      for (const end = Math.min(count, k + CHUNK); k < end; k++) bus.publish(stamp(k));
      await bus.drain();
    }
    await bus.close();
    await a.done;
    const c = a.counters();
    const p = percentiles(Float64Array.from(lat), lat.length);
    return row(
      'embedded → archive (SQLite)',
      undefined,
      count,
      c.written,
      t0,
      last,
      p,
      `${c.batches} batches, ${(c.fileBytes / 2 ** 20).toFixed(0)} MiB, dropped ${c.dropped}, writer ready in ${startMs.toFixed(0)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function nats(
  url: string,
  serverPid: number | undefined,
  encoding: BatchEncoding,
  count: number,
  rate?: number,
  to: 'core' | 'jetstream' | 'archive' = 'core',
): Promise<Result> {
  const jetstream = to !== 'core';
  const dataDir = to === 'archive' ? mkdtempSync(join(tmpdir(), 'po-bench-js-archive-')) : '';
  const child = spawn(
    process.execPath,
    [
      ...opts['consumer-node-args'].split(' ').filter(Boolean),
      '--import',
      'tsx',
      new URL(to === 'archive' ? './lib/archive-consumer.ts' : './lib/nats-consumer.ts', import.meta.url).pathname,
      JSON.stringify({ url, expected: count, idleMs: 5000, jetstream, dataDir }),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const ready = await lines.next();
    if (ready.value !== 'ready') throw new Error(`consumer: ${String(ready.value)}`);
    const bus = await NatsBus.connect({
      servers: [url],
      name: 'bench publisher',
      encoding,
      mode: jetstream ? 'jetstream' : 'core',
      ...(opts['batch-bytes'] ? { batchBytes: Number(opts['batch-bytes']) } : {}),
    });
    const cpu0 = { publisher: cpuSeconds(), server: processCpuSeconds(serverPid) };
    // Half the publisher's default buffer (100,000 events) may wait for the server's acknowledgement.
    const unacked = () => bus.stats().buffered + bus.stats().inFlight;
    const t0 = await publishAll((e) => bus.publish(e), count, rate, { events: unacked, maxAhead: 50_000 });
    const result = JSON.parse(String((await lines.next()).value)) as {
      received: number;
      lastUs: number;
      p50Us: number;
      p99Us: number;
      maxUs: number;
      cpuSeconds: number;
      threads: Record<string, number>;
      maxRssMb: number;
      heapAtMaxRssMb: number;
      buffersAtMaxRssMb: number;
      maxGapUs: number;
      maxGapAt: number;
      bus: Record<string, number>;
    };
    // CPU per delivered event of each process over the run: who the limit is on two shared cores.
    const perEvent = (seconds: number) => fmt((seconds * 1e6) / Math.max(1, result.received), 1);
    // The consumer's threads: the main one, then the busiest others (the archive's writer thread, V8's GC helpers).
    const others = Object.entries(result.threads)
      .filter(([name]) => name !== 'main')
      .map(([, s]) => s)
      .sort((a, b) => b - a);
    const threads = [`main ${perEvent(result.threads.main ?? NaN)}`, ...others.slice(0, 3).map((s) => perEvent(s))].join(', ');
    const cpu =
      `CPU µs/event: publisher ${perEvent(cpuSeconds() - cpu0.publisher)}, nats-server ${perEvent(processCpuSeconds(serverPid) - cpu0.server)}, ` +
      `consumer ${perEvent(result.cpuSeconds)} (${threads}); consumer RSS ≤ ${fmt(result.maxRssMb, 0)} MB (then V8 heap ${fmt(result.heapAtMaxRssMb, 0)}, buffers ${fmt(result.buffersAtMaxRssMb, 0)})`;
    await bus.close();
    const s = bus.stats();
    return row(
      to === 'archive'
        ? `JetStream (${encoding}) → archive process (SQLite, ack after commit)`
        : jetstream
          ? `JetStream (${encoding}) → durable consumer process`
          : `NATS (${encoding}) → consumer process`,
      rate,
      count,
      result.received,
      t0,
      result.lastUs,
      { p50: result.p50Us, p99: result.p99Us, max: result.maxUs },
      `publisher acked ${s.acked} dropped ${s.dropped} resent ${s.resent}; longest wait ${fmt(result.maxGapUs / 1000, 0)} ms after ${result.maxGapAt}; consumer rejected ${result.bus.rejected} duplicates ${result.bus.duplicates}` +
        `${jetstream ? ` acked ${result.bus.acked} messages rewinds ${result.bus.rewinds ?? 0}` : ''}` +
        `${to === 'archive' ? ` batches ${result.bus.batches} failed ${result.bus.failed}` : ''}; ${cpu}`,
    );
  } finally {
    // The consumer exits by itself after its result line (a profile, if asked for, is written then).
    if (child.exitCode === null) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    }
    child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

function row(
  path: string,
  rate: number | undefined,
  events: number,
  delivered: number,
  t0: number,
  last: number,
  p: { p50: number; p99: number; max: number },
  note: string,
): Result {
  return {
    path,
    mode: rate ? `paced ${rate}/s` : 'saturated',
    events,
    delivered,
    eventsPerSec: delivered / ((last - t0) / 1e6),
    p50Ms: p.p50 / 1000,
    p99Ms: p.p99 / 1000,
    maxMs: p.max / 1000,
    note,
  };
}

// ---- run ----------------------------------------------------------------------

const m = await machine();
console.log(`bench/pipeline: ${m.nproc} CPU ${m.cpu}, node ${m.node}, load ${m.load.toFixed(2)}, ${m.date}`);
console.log(
  `events: pool of ${pool.length} ${opts.kind} events (${withRaw} with raw payload), mean ${fmt(poolBytes / pool.length, 0)} B as JSON; ${N} per saturated run, ${PACED} per paced run`,
);
const results: Result[] = [];
const want = (p: string) => !opts.only || opts.only.split(',').includes(p);
if (want('embedded')) {
  results.push(await embedded(N));
  if (PACED > 0) results.push(await embedded(PACED, RATE));
}
if (want('nats')) {
  const server = await startNatsServer();
  try {
    for (const encoding of opts.encodings.split(',') as BatchEncoding[]) {
      results.push(await nats(server.url, server.process.pid, encoding, N));
      if (PACED > 0) results.push(await nats(server.url, server.process.pid, encoding, PACED, RATE));
    }
  } finally {
    await server.stop('SIGKILL');
  }
}
if (want('jetstream') || want('jsarchive')) {
  // The same run beside core NATS: observer → JetStream stream (file store, per-message publish acks) → durable consumer.
  const server = await startNatsServer({
    jetstream: true,
    config: opts['server-log'] ? [`log_file: "${opts['server-log']}"`] : [],
  });
  try {
    for (const to of ['jetstream', 'archive'] as const) {
      if (!want(to === 'archive' ? 'jsarchive' : 'jetstream')) continue;
      for (const encoding of opts.encodings.split(',') as BatchEncoding[]) {
        results.push(await nats(server.url, server.process.pid, encoding, N, undefined, to));
        if (PACED > 0) results.push(await nats(server.url, server.process.pid, encoding, PACED, RATE, to));
      }
    }
  } finally {
    await server.stop('SIGKILL');
  }
}
if (want('archive')) results.push(await archive(N));

console.log(
  table(
    ['path', 'mode', 'events', 'delivered', 'events/s', 'p50 ms', 'p99 ms', 'max ms', 'note'],
    results.map((r) => [
      r.path,
      r.mode,
      String(r.events),
      String(r.delivered),
      fmt(r.eventsPerSec, 0),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.maxMs, 1),
      r.note,
    ]),
  ),
);
console.log('BENCH_JSON ' + JSON.stringify({ machine: m, poolEvents: pool.length, meanBytes: poolBytes / pool.length, results }));
