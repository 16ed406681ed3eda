/**
 * bench/archive-floor: the CPU each event costs in the stages an archive fed
 * from NATS cannot skip, measured one stage at a time in this one thread, on
 * bench/pipeline's realistic events (so the sum is a floor: no NATS client,
 * no acknowledgements, no hand-over between threads, little GC pressure):
 *
 * 1. decoding a MessagePack batch (src/events/packed.ts, msgpackr's pure-JS
 *    build, as every consumer does), beside msgpackr's optional native string
 *    extractor on the same batches (not used by us: docs/benchmarks.md);
 * 2. the typed check of each event (parseEvent, src/events/schema.ts);
 * 3. the two together as consumers run them (MessageReader: decode, check,
 *    subject and duplicate checks);
 * 4. building the archive's rows (RowBatchBuilder: JSON and UTF-8);
 * 5. writing them to a fresh archive file (ArchiveStore, the real schema and
 *    pragmas; 5000 rows a transaction, as the archive commits), user + system.
 *
 *   npm run bench:archive-floor -- [--events 200000] [--batch-events 370] [--raw-every 10]
 *
 * `--batch-events`: events per NATS message; 370 is what bench/pipeline's
 * publisher sent (200,000 events in 542 messages). A benchmark script, never a
 * test: nothing here asserts a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MessageReader } from '../src/bus/reader.js';
import { BATCH_HEADER, formatBatch, formatSeq, SEQ_HEADER } from '../src/bus/seq.js';
import { openArchiveForWriting } from '../src/consumers/archive/db.js';
import { ArchiveStore, RowBatchBuilder } from '../src/consumers/archive/store.js';
import { packEvents, unpackEvents } from '../src/events/packed.js';
import { parseEvent } from '../src/events/schema.js';
import type { ObserverEvent } from '../src/events/types.js';
import { realisticMessageEvents } from './lib/realistic-events.js';
import { fmt, machine, table } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    'batch-events': { type: 'string', default: '370' },
    'raw-every': { type: 'string', default: '10' },
  },
});
const N = Number(opts.events);
const PER_BATCH = Number(opts['batch-events']);
const COMMIT_ROWS = 5000;

const pool = realisticMessageEvents(Number(opts['raw-every']));
const batches: { bytes: Uint8Array; count: number; seq: number }[] = [];
{
  // Only the packed messages are kept: the events themselves would be old-space garbage every stage pays for.
  const t0 = Date.now() * 1000;
  for (let k = 0; k < N; k += PER_BATCH) {
    const slice: ObserverEvent[] = [];
    for (let i = k; i < Math.min(N, k + PER_BATCH); i++) slice.push({ ...pool[i % pool.length]!, timeUs: t0 + i });
    batches.push({ bytes: packEvents(slice), count: slice.length, seq: k + 1 });
  }
}
const wireBytes = batches.reduce((s, b) => s + b.bytes.length, 0);

/** CPU (user + system) µs since `c`. */
const cpuSince = (c: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c);
  return d.user + d.system;
};

/**
 * One pass over the batches as an archive meets them, one batch at a time (nothing kept but the rows of the open
 * transaction, as in the archive), each stage's CPU summed separately: decode, check, rows, SQLite.
 */
function archivePass(dataDir: string): { decode: number; check: number; rows: number; sqlite: number; dbBytes: number } {
  const t = { decode: 0, check: 0, rows: 0, sqlite: 0, dbBytes: 0 };
  const db = openArchiveForWriting(dataDir);
  const store = new ArchiveStore(db);
  let builder = new RowBatchBuilder(COMMIT_ROWS * 1600);
  const commit = () => {
    const c = process.cpuUsage();
    store.writeBatch(builder.finish());
    t.sqlite += cpuSince(c);
    builder = new RowBatchBuilder(COMMIT_ROWS * 1600);
  };
  for (const b of batches) {
    let c = process.cpuUsage();
    const items = unpackEvents(b.bytes, b.count);
    t.decode += cpuSince(c);
    c = process.cpuUsage();
    const checked = items.map((i) => parseEvent(i));
    t.check += cpuSince(c);
    c = process.cpuUsage();
    for (const e of checked) builder.add(e);
    t.rows += cpuSince(c);
    if (builder.count >= COMMIT_ROWS) commit();
  }
  if (builder.count > 0) commit();
  t.dbBytes = (db.prepare('SELECT page_count * page_size AS b FROM pragma_page_count(), pragma_page_size()').get() as { b: number }).b;
  db.close();
  return t;
}

/** CPU µs per event of `fn` (one pass over the batches), the median of `runs` runs. */
function cpuPerEvent(fn: () => void, runs = 3): number {
  const each: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    fn();
    each.push(cpuSince(c) / N);
  }
  return each.sort((a, b) => a - b)[runs >> 1]!;
}

const root = mkdtempSync(join(tmpdir(), 'po-floor-'));
const passes: ReturnType<typeof archivePass>[] = [];
try {
  for (let r = 0; r < 3; r++) passes.push(archivePass(join(root, `r${r}`)));
} finally {
  rmSync(root, { recursive: true, force: true });
}
const med = (k: 'decode' | 'check' | 'rows' | 'sqlite') => passes.map((p) => p[k] / N).sort((a, b) => a - b)[1]!;
const dbBytes = passes[0]!.dbBytes;

// msgpackr's native string extractor on the same batches, for comparison: loaded from msgpackr's CommonJS build, a
// module instance of its own (the pure-JS one this process decodes with stays as it is).
const cjs = createRequire(import.meta.url)('msgpackr') as {
  isNativeAccelerationEnabled: boolean;
  Unpackr: new (o: object) => { unpack(b: Uint8Array): unknown };
};
const options = { useRecords: true, mapsAsObjects: true, trusted: false, structuredClone: false };
const native = cjs.isNativeAccelerationEnabled ? cpuPerEvent(() => batches.forEach((b) => new cjs.Unpackr(options).unpack(b.bytes))) : NaN;

// Decode and check as a consumer reads a message: MessageReader, with its subject and duplicate checks.
const reader = () => {
  // A fresh reader per run: its duplicate window would call a second run's events duplicates.
  const r = new MessageReader();
  let n = 0;
  for (const b of batches) {
    const h = new Map([
      [BATCH_HEADER, formatBatch('msgpack', b.count)],
      [SEQ_HEADER, formatSeq('bench', 'p1', b.seq)],
    ]);
    r.read('po.v1.bench.message', { get: (k: string) => h.get(k) ?? '' }, b.bytes, () => n++);
  }
  if (n !== N) throw new Error(`the reader delivered ${n} of ${N} events`);
};
const readerUs = cpuPerEvent(reader);

const rows: [string, number, string][] = [
  ['1. decode MessagePack (msgpackr pure JS, as consumers do)', med('decode'), ''],
  ['2. typed check of each event (parseEvent)', med('check'), ''],
  ['3. archive rows (RowBatchBuilder: JSON, UTF-8)', med('rows'), ''],
  [`4. SQLite: insert, commit (${COMMIT_ROWS} rows a transaction)`, med('sqlite'), "the writer thread's share"],
  ['1 + 2 as a consumer reads a message (MessageReader)', readerUs, 'cross-check of 1 + 2'],
  [
    '1 with the native string extractor (not used)',
    native,
    cjs.isNativeAccelerationEnabled ? 'for comparison' : 'msgpackr-extract not installed',
  ],
];
const m = await machine();
console.log(`bench/archive-floor: ${m.nproc} CPU ${m.cpu}, node ${m.node}, load ${m.load.toFixed(2)}, ${m.date}`);
console.log(
  `${N} realistic message events (pool of ${pool.length}), ${batches.length} MessagePack messages of ${PER_BATCH}, ` +
    `${fmt(wireBytes / N, 0)} B/event on the wire, ${fmt(dbBytes / N, 0)} B/event in the archive`,
);
const floor = rows[0]![1] + rows[1]![1] + rows[2]![1] + rows[3]![1];
console.log(
  table(
    ['stage', 'CPU µs/event', 'note'],
    [
      ...rows.map(([s, v, n]) => [s, fmt(v, 2), n]),
      ['archive floor: 1 + 2 + 3 + 4', fmt(floor, 2), `all of one core: ${fmt(1e6 / floor, 0)} events/s`],
    ],
  ),
);
console.log(
  'BENCH_JSON ' +
    JSON.stringify({ machine: m, events: N, batchEvents: PER_BATCH, stages: rows.map(([stage, us]) => ({ stage, us })), floorUs: floor }),
);
