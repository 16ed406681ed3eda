/**
 * bench/fuzz: the decoder fuzzer at scale (default 1,000,000 cases).
 *
 *   npm run fuzz -- [--cases 1000000] [--seed 1] [--json]
 *
 * Mutated valid frames (bit flips, byte insert/delete, truncation, length,
 * count and command edits, splices) and random bytes, with random chunking,
 * through FrameDecoder + decodeMessage; see bench/lib/fuzz.ts for the
 * invariants. Exits non-zero if any invariant broke, printing each case's hex.
 */
import { parseArgs } from 'node:util';
import { machine, fmt, table } from './lib/stats.js';
import { runFuzz, type FuzzResult } from './lib/fuzz.js';

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
  },
});
const cases = Number(opts.cases);
const seed = Number(opts.seed);
if (!Number.isSafeInteger(cases) || cases <= 0) throw new Error(`--cases: a positive integer, got ${opts.cases}`);

const info = await machine();
console.log(`machine: ${info.nproc} x ${info.cpu}, node ${info.node}, ${info.date}, load average ${info.load.toFixed(2)}`);
console.log(`fuzzing FrameDecoder + decodeMessage: ${cases.toLocaleString('en-US')} cases, seed ${seed}`);

const result = runFuzz({
  seed,
  cases,
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
print(result);
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
process.exitCode = result.failureCount === 0 ? 0 : 1;
