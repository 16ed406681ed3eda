/**
 * bench/codec: decode throughput of the full pipeline (FrameDecoder +
 * decodeMessage) on a realistic corpus, side by side in the same run and on the
 * same bytes with bitcore-p2p's parser and with the double-SHA256 bound (the
 * physical limit: every payload byte must be checksummed).
 *
 *   npm run bench:codec -- [--reps 7] [--warmup 2] [--seed 1] [--chunk 65536] [--only ours|bitcore|sha|framing] [--breakdown]
 *
 * Prints a table and one machine-readable JSON line (prefixed `BENCH_JSON `).
 * A benchmark script, never a test: nothing here asserts a time.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { FrameDecoder } from '../src/protocol/framing.js';
import { decodeMessage } from '../src/protocol/messages/index.js';
import { NETWORKS } from '../src/protocol/networks.js';
import { bitcoreParser } from './lib/bitcore.js';
import { chunk, concat, fixtureFrames, generatedFrames, type CorpusFrame } from './lib/corpus.js';
import { fmt, machine, median, table, timeIt } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    chunk: { type: 'string', default: '65536' },
    only: { type: 'string' },
    breakdown: { type: 'boolean', default: false },
  },
});
const reps = Number(opts.reps);
const warmup = Number(opts.warmup);
const seed = Number(opts.seed);
const chunkSize = Number(opts.chunk);
const network = NETWORKS.regtest;

// ---- corpus ---------------------------------------------------------------

const fixtures = fixtureFrames(network);
const generated = generatedFrames(seed);
const all: CorpusFrame[] = [...fixtures, ...generated];

/** A frame bitcore-p2p parses when it arrives alone (its 70001-era command set; payloads it can read). */
function bitcoreParses(f: CorpusFrame): boolean {
  const p = bitcoreParser('regtest');
  return p.push(f.wire) === 1 && p.errors === 0;
}
const subset = all.filter(bitcoreParses);

interface Stream {
  name: string;
  frames: CorpusFrame[];
  bytes: number;
  chunks: Uint8Array[];
  payloads: Uint8Array[];
}
function stream(name: string, frames: CorpusFrame[]): Stream {
  const joined = concat(frames.map((f) => f.wire));
  return { name, frames, bytes: joined.length, chunks: chunk(joined, chunkSize), payloads: frames.map((f) => f.payload) };
}
const full = stream('full corpus', all);
const bitcoreSubset = stream('bitcore-parsable subset', subset);

// ---- the contenders -------------------------------------------------------

let sink = 0; // results feed this so no work can be optimised away

function ours(s: Stream): number {
  const decoder = new FrameDecoder({ network });
  let n = 0;
  for (const c of s.chunks) {
    for (const item of decoder.push(c)) {
      if (item.type !== 'frame') throw new Error(`corpus frame rejected: ${item.violation.kind} ${item.violation.detail}`);
      const m = decodeMessage(item.frame.command, item.frame.payload);
      sink ^= m.command.length;
      n++;
    }
  }
  return n;
}

function framingOnly(s: Stream): number {
  const decoder = new FrameDecoder({ network });
  let n = 0;
  for (const c of s.chunks) for (const item of decoder.push(c)) if (item.type === 'frame') n++;
  return n;
}

function bitcore(s: Stream): number {
  const p = bitcoreParser('regtest');
  let n = 0;
  for (const c of s.chunks) n += p.push(c);
  if (p.errors !== 0) throw new Error(`bitcore rejected ${p.errors} frames of its own subset`);
  return n;
}

/** sha256d as hash.ts does it: two createHash objects per payload. */
function sha256dCreateHash(s: Stream): number {
  for (const p of s.payloads) {
    const d = createHash('sha256').update(createHash('sha256').update(p).digest()).digest();
    sink ^= d[0]!;
  }
  return s.payloads.length;
}

/** sha256d with the one-shot crypto.hash (Node >= 20.12): same bytes, less per-call overhead. */
function sha256dOneShot(s: Stream): number {
  for (const p of s.payloads) {
    const d = oneShotHash('sha256', oneShotHash('sha256', p, 'buffer'), 'buffer');
    sink ^= d[0]!;
  }
  return s.payloads.length;
}

/** sha256d with crypto.hash returning latin1 strings (cheaper to return than Buffers): the fastest node:crypto form found. */
function sha256dOneShotLatin1(s: Stream): number {
  for (const p of s.payloads) {
    const d = oneShotHash('sha256', Buffer.from(oneShotHash('sha256', p, 'binary'), 'latin1'), 'binary');
    sink ^= d.charCodeAt(0);
  }
  return s.payloads.length;
}

interface Row {
  name: string;
  stream: Stream;
  run: (s: Stream) => number;
  times: number[];
}
const rows: Row[] = [
  { name: 'ours: FrameDecoder + decodeMessage', stream: full, run: ours, times: [] },
  { name: 'ours: FrameDecoder only (no payload decode)', stream: full, run: framingOnly, times: [] },
  { name: 'sha256d bound (createHash x2)', stream: full, run: sha256dCreateHash, times: [] },
  { name: 'sha256d bound (crypto.hash x2)', stream: full, run: sha256dOneShot, times: [] },
  { name: 'sha256d bound (crypto.hash x2, latin1)', stream: full, run: sha256dOneShotLatin1, times: [] },
  { name: 'ours: FrameDecoder + decodeMessage', stream: bitcoreSubset, run: ours, times: [] },
  { name: 'bitcore-p2p Messages.parseBuffer', stream: bitcoreSubset, run: bitcore, times: [] },
  { name: 'sha256d bound (crypto.hash x2)', stream: bitcoreSubset, run: sha256dOneShot, times: [] },
];
const selected = rows.filter((r) => {
  if (!opts.only) return true;
  if (opts.only === 'ours') return r.run === ours;
  if (opts.only === 'framing') return r.run === framingOnly;
  if (opts.only === 'bitcore') return r.run === bitcore;
  if (opts.only === 'sha') return r.run === sha256dCreateHash || r.run === sha256dOneShot || r.run === sha256dOneShotLatin1;
  throw new Error(`--only: expected ours, framing, bitcore or sha, got ${opts.only}`);
});

// ---- run: interleaved, warm-up then measured repetitions ------------------

for (const r of selected) {
  const n = r.run(r.stream);
  if (n !== r.stream.frames.length) throw new Error(`${r.name}: decoded ${n} of ${r.stream.frames.length} messages`);
}
for (let i = 0; i < warmup + reps; i++) {
  for (const r of selected) {
    const t = timeIt(() => r.run(r.stream));
    if (i >= warmup) r.times.push(t);
  }
}

// ---- report ---------------------------------------------------------------

const mb = (bytes: number, s: number) => bytes / 1e6 / s;
const info = await machine();
const countBy = (frames: CorpusFrame[]) => {
  const m = new Map<string, number>();
  for (const f of frames) m.set(f.command, (m.get(f.command) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`);
};
console.log(`machine: ${info.nproc} x ${info.cpu}, node ${info.node}, ${info.date}, load average ${info.load.toFixed(2)}`);
console.log(
  `corpus: ${full.frames.length} messages, ${fmt(full.bytes / 1e6, 2)} MB (${fixtures.length} recorded by Bitcoin Core, ${generated.length} generated, seed ${seed})`,
);
console.log(`  commands: ${countBy(all).join(', ')}`);
console.log(
  `bitcore subset: ${subset.length} messages, ${fmt(bitcoreSubset.bytes / 1e6, 2)} MB (bitcore-p2p knows only 70001-era commands: no addrv2, sendaddrv2, wtxidrelay, sendcmpct, cmpctblock, feefilter, ...)`,
);
console.log(`chunks: ${chunkSize} bytes; ${warmup} warm-up + ${reps} measured repetitions, median\n`);

const results = selected.map((r) => {
  const t = median(r.times);
  return { name: r.name, corpus: r.stream.name, seconds: t, mbPerS: mb(r.stream.bytes, t), msgPerS: r.stream.frames.length / t };
});
console.log(
  table(
    ['decoder', 'corpus', 'MB/s', 'msg/s', 'median ms'],
    results.map((r) => [r.name, r.corpus, fmt(r.mbPerS), fmt(r.msgPerS, 0), fmt(r.seconds * 1000, 2)]),
  ),
);

const find = (run: Row['run'], s: Stream) => {
  const r = selected.find((x) => x.run === run && x.stream === s);
  return r ? median(r.times) : undefined;
};
const tOurs = find(ours, full);
const tBound = Math.min(
  ...[find(sha256dCreateHash, full), find(sha256dOneShot, full), find(sha256dOneShotLatin1, full)].filter(
    (x): x is number => x !== undefined,
  ),
);
const tOursSubset = find(ours, bitcoreSubset);
const tBitcore = find(bitcore, bitcoreSubset);
const vsBitcore = tOursSubset !== undefined && tBitcore !== undefined ? tBitcore / tOursSubset : undefined;
const ofBound = tOurs !== undefined && Number.isFinite(tBound) ? tBound / tOurs : undefined;
console.log('');
if (vsBitcore !== undefined)
  console.log(`ours vs bitcore-p2p (same bytes): ${fmt(vsBitcore, 1)}x  (target >= 10x: ${vsBitcore >= 10 ? 'met' : 'MISSED'})`);
if (ofBound !== undefined)
  console.log(
    `ours as share of the sha256d bound (fastest variant): ${fmt(ofBound * 100, 0)} %  (target >= 50 %: ${ofBound >= 0.5 ? 'met' : 'MISSED'})`,
  );

if (opts.breakdown) {
  // Payload decode alone, per command: where the time goes beyond framing.
  const byCommand = new Map<string, Uint8Array[]>();
  for (const f of all) byCommand.set(f.command, [...(byCommand.get(f.command) ?? []), f.payload]);
  const lines: string[][] = [];
  for (const [command, payloads] of byCommand) {
    const bytes = payloads.reduce((a, p) => a + p.length, 0);
    const once = () => {
      for (const p of payloads) sink ^= decodeMessage(command, p).command.length;
    };
    for (let i = 0; i < warmup; i++) once();
    const t = median(Array.from({ length: reps }, () => timeIt(once)));
    const tSha = median(Array.from({ length: reps }, () => timeIt(() => sha256dOneShot({ payloads } as Stream))));
    lines.push([
      command,
      String(payloads.length),
      fmt(bytes / 1e6, 3),
      fmt(mb(bytes, t)),
      fmt(payloads.length / t, 0),
      fmt(mb(bytes, tSha)),
    ]);
  }
  lines.sort((a, b) => Number(b[2]!.replace(/,/g, '')) - Number(a[2]!.replace(/,/g, '')));
  console.log('\npayload decode only (decodeMessage), per command:');
  console.log(table(['command', 'messages', 'MB', 'MB/s', 'msg/s', 'sha256d MB/s'], lines));

  // Full pipelines per command on the bitcore subset: the ratio depends on the mix.
  const perCommand: string[][] = [];
  const commands = [...new Set(subset.map((f) => f.command))];
  for (const command of commands) {
    const frames = subset.filter((f) => f.command === command);
    if (frames.length < 5) continue;
    const s = stream(command, frames);
    for (let i = 0; i < warmup; i++) {
      ours(s);
      bitcore(s);
    }
    const tO: number[] = [];
    const tB: number[] = [];
    for (let i = 0; i < reps; i++) {
      tO.push(timeIt(() => ours(s)));
      tB.push(timeIt(() => bitcore(s)));
    }
    const o = median(tO);
    const b = median(tB);
    perCommand.push([command, String(frames.length), fmt(s.bytes / 1e6, 3), fmt(mb(s.bytes, o)), fmt(mb(s.bytes, b)), fmt(b / o, 1) + 'x']);
  }
  console.log('\nfull pipeline per command, bitcore subset (ours vs bitcore-p2p):');
  console.log(table(['command', 'messages', 'MB', 'ours MB/s', 'bitcore MB/s', 'ratio'], perCommand));
}

console.log(
  'BENCH_JSON ' +
    JSON.stringify({
      bench: 'codec',
      machine: info,
      seed,
      chunkSize,
      reps,
      corpus: { messages: full.frames.length, bytes: full.bytes, fixtureMessages: fixtures.length, generatedMessages: generated.length },
      bitcoreSubset: { messages: subset.length, bytes: bitcoreSubset.bytes },
      results,
      ratios: { vsBitcore, ofSha256dBound: ofBound },
      targets: { vsBitcore: 10, ofSha256dBound: 0.5 },
      sink: sink & 1,
    }),
);
