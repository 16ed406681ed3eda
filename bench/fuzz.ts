/**
 * bench/fuzz: the decoder fuzzer at scale (default 1,000,000 cases).
 *
 *   npm run fuzz -- [--cases 1000000] [--seed 1] [--transport v1|v2|both]
 *
 * Mutated valid frames (bit flips, byte insert/delete, truncation, length,
 * count and command edits, splices) and random bytes, with random chunking,
 * through FrameDecoder + decodeMessage; see bench/lib/fuzz.ts for the
 * invariants. Exits non-zero if any invariant broke, printing each case's hex.
 *
 * `--transport v2` (or `both`, the default) also fuzzes the BIP324 v2 transport
 * (bench/lib/fuzz-v2.ts): mutated v2 streams into a responder V2Transport.
 */
import { parseArgs } from 'node:util';
import { machine, fmt, table } from './lib/stats.js';
import { runFuzz, type FuzzResult } from './lib/fuzz.js';
import { runFuzzV2 } from './lib/fuzz-v2.js';

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    transport: { type: 'string', default: 'both' },
  },
});
if (!['v1', 'v2', 'both'].includes(opts.transport)) throw new Error(`--transport: v1, v2 or both, got ${opts.transport}`);
const cases = Number(opts.cases);
const seed = Number(opts.seed);
if (!Number.isSafeInteger(cases) || cases <= 0) throw new Error(`--cases: a positive integer, got ${opts.cases}`);

const info = await machine();
console.log(`machine: ${info.nproc} x ${info.cpu}, node ${info.node}, ${info.date}, load average ${info.load.toFixed(2)}`);
const v1 = opts.transport !== 'v2';
if (v1) console.log(`fuzzing FrameDecoder + decodeMessage: ${cases.toLocaleString('en-US')} cases, seed ${seed}`);

const result = runFuzz({
  seed,
  cases: v1 ? cases : 0,
  maxFailures: 50,
  progressEvery: 50_000,
  onProgress: (done, r) =>
    process.stderr.write(`\r  ${done.toLocaleString('en-US')} cases, ${fmt(done / r.seconds, 0)} cases/s, ${r.failureCount} failures   `),
});
process.stderr.write('\n');

const sorted = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [k, v.toLocaleString('en-US')]);
const print = (r: FuzzResult) => {
  console.log(
    `\n${r.cases.toLocaleString('en-US')} cases, ${fmt(r.bytes / 1e6, 1)} MB in ${fmt(r.seconds, 1)} s: ${fmt(r.cases / r.seconds, 0)} cases/s`,
  );
  console.log(`slowest case ${fmt(r.slowestCaseMs, 2)} ms; largest pending ${r.maxPending.toLocaleString('en-US')} bytes`);
  console.log(
    `allocations above 2x bytes received (within the decoder's ${'4096'}-byte floor): ${r.strictAllocationExceeded.toLocaleString('en-US')} pushes`,
  );
  console.log('\noutcomes per frame (decoded, DecodeError code, framing violation):');
  console.log(table(['outcome', 'count'], sorted(r.outcomes)));
  console.log('\nhow each case ended:');
  console.log(table(['ending', 'cases'], sorted(r.endings)));
  console.log('\nmutations:');
  console.log(table(['mutation', 'cases'], sorted(r.mutations)));
  console.log(
    `\ncommands decoded after mutation: ${Object.keys(r.decodedCommands).length} (${Object.keys(r.decodedCommands).sort().join(', ')})`,
  );
  console.log(`\ninvariant failures: ${r.failureCount}`);
  if (r.failureCount > 0) console.log(table(['invariant (command)', 'count'], sorted(r.failuresByKind)));
  for (const f of r.failures) {
    console.log(`- case ${f.case}: ${f.invariant}: ${f.detail}`);
    if (f.command !== undefined) console.log(`  command ${JSON.stringify(f.command)} payload ${f.payloadHex}`);
    console.log(`  input ${f.inputHex.length > 2000 ? f.inputHex.slice(0, 2000) + '...' : f.inputHex}`);
  }
};
if (v1) print(result);
if (v1)
  console.log(
    'BENCH_JSON ' +
      JSON.stringify({
        bench: 'fuzz',
        machine: info,
        seed,
        cases: result.cases,
        seconds: result.seconds,
        casesPerSecond: result.cases / result.seconds,
        bytes: result.bytes,
        outcomes: result.outcomes,
        endings: result.endings,
        failureCount: result.failureCount,
        failuresByKind: result.failuresByKind,
        strictAllocationExceeded: result.strictAllocationExceeded,
        maxPending: result.maxPending,
        slowestCaseMs: result.slowestCaseMs,
      }),
  );
let v2Failures = 0;
if (opts.transport !== 'v1') {
  console.log(`\nfuzzing the BIP324 v2 transport (responder): ${cases.toLocaleString('en-US')} cases, seed ${seed}`);
  const r = runFuzzV2({
    seed,
    cases,
    maxFailures: 50,
    progressEvery: 20_000,
    onProgress: (done, p) =>
      process.stderr.write(`\r  ${done.toLocaleString('en-US')} cases, ${fmt(done / p.seconds, 0)} cases/s, ${p.failureCount} failures   `),
  });
  process.stderr.write('\n');
  v2Failures = r.failureCount;
  console.log(
    `\n${r.cases.toLocaleString('en-US')} cases, ${fmt(r.bytes / 1e6, 1)} MB in ${fmt(r.seconds, 1)} s: ${fmt(r.cases / r.seconds, 0)} cases/s`,
  );
  console.log(
    `slowest case ${fmt(r.slowestCaseMs, 2)} ms; largest pending ${r.maxPending.toLocaleString('en-US')} bytes; ` +
      `decoys received ${r.decoysIn.toLocaleString('en-US')}; ECDH computed ${r.ecdhComputed.toLocaleString('en-US')} times`,
  );
  console.log('\noutcomes per item:');
  console.log(table(['outcome', 'count'], sorted(r.outcomes)));
  console.log('\nresponder state at the end of each case:');
  console.log(table(['state', 'cases'], sorted(r.endings)));
  console.log('\nmutations:');
  console.log(table(['mutation', 'cases'], sorted(r.mutations)));
  console.log(`\ninvariant failures: ${r.failureCount}`);
  if (r.failureCount > 0) console.log(table(['invariant', 'count'], sorted(r.failuresByKind)));
  for (const f of r.failures) console.log(`- case ${f.case}: ${f.invariant}: ${f.detail}\n  input ${f.inputHex.slice(0, 2000)}`);
  console.log(
    'BENCH_JSON ' +
      JSON.stringify({
        bench: 'fuzz-v2',
        machine: info,
        seed,
        cases: r.cases,
        seconds: r.seconds,
        casesPerSecond: r.cases / r.seconds,
        outcomes: r.outcomes,
        endings: r.endings,
        failureCount: r.failureCount,
        maxPending: r.maxPending,
        slowestCaseMs: r.slowestCaseMs,
      }),
  );
}
process.exitCode = (v1 ? result.failureCount : 0) + v2Failures === 0 ? 0 : 1;
