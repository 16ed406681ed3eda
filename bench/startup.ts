/**
 * bench/startup: how long `peer-observer --version`, `--help` and `run --help`
 * take to start and exit, from the compiled package (dist/, what an installed
 * package runs) against the TypeScript sources through tsx (what the package
 * ran before it was compiled, and what a source checkout still runs), interleaved
 * in one run so both see the same machine.
 *
 *   npm run bench:startup -- [--reps 15]
 *
 * Needs `npm run build:dist` first. Prints a table (medians, and the fastest
 * run of each: on a shared machine the minimum is the run least disturbed by
 * other work), the load average before and after, and one `BENCH_JSON` line.
 * A benchmark script, never a test: nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { fmt, median, table } from './lib/stats.js';

const { values: opts } = parseArgs({ options: { reps: { type: 'string', default: '15' } } });
const reps = Number(opts.reps);
const bin = new URL('../bin/peer-observer.js', import.meta.url).pathname;
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) throw new Error('dist/ is missing: npm run build:dist first');

const commands = [['--version'], ['--help'], ['run', '--help']];
const modes = { dist: '1', tsx: '0' } as const;

function once(args: string[], useDist: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, PEER_OBSERVER_USE_DIST: useDist, NODE_OPTIONS: '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const loadBefore = loadavg()[0]!;
const times: Record<string, Record<string, number[]>> = {};
for (const args of commands) {
  const key = args.join(' ');
  times[key] = { dist: [], tsx: [] };
  // One warm-up each: tsx's transform cache and the OS page cache, as a user's second start sees them.
  for (const m of Object.values(modes)) once(args, m);
  for (let i = 0; i < reps; i++) for (const [name, m] of Object.entries(modes)) times[key]![name]!.push(once(args, m));
}
const rows = Object.entries(times).map(([key, t]) => {
  const d = median(t.dist!);
  const s = median(t.tsx!);
  const dMin = Math.min(...t.dist!);
  const sMin = Math.min(...t.tsx!);
  return [
    key,
    `${fmt(d, 0)} ms`,
    `${fmt(s, 0)} ms`,
    `${fmt((100 * d) / s, 0)} %`,
    `${fmt(dMin, 0)} / ${fmt(sMin, 0)} ms`,
    `${fmt((100 * dMin) / sMin, 0)} %`,
  ];
});
const loadAfter = loadavg()[0]!;
console.log(table(['command', 'compiled (dist/)', 'sources via tsx', 'compiled / tsx', 'fastest: dist / tsx', 'fastest ratio'], rows));
console.log(`reps ${reps}; 1-minute load average ${fmt(loadBefore, 2)} before, ${fmt(loadAfter, 2)} after (2 cores)`);
console.log(
  'BENCH_JSON ' +
    JSON.stringify({
      load: { before: loadBefore, after: loadAfter },
      ...Object.fromEntries(
        Object.entries(times).map(([k, t]) => [
          k,
          { distMs: median(t.dist!), tsxMs: median(t.tsx!), distMinMs: Math.min(...t.dist!), tsxMinMs: Math.min(...t.tsx!) },
        ]),
      ),
    }),
);
