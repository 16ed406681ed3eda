/**
 * bench/startup: how long `peer-observer --version`, `--help` and `run --help`
 * take to start and exit, from the compiled package (dist/, what an installed
 * package runs) against the TypeScript sources through tsx (what the package
 * ran before it was compiled, and what a source checkout still runs), interleaved
 * in one run so both see the same machine.
 *
 *   npm run bench:startup -- [--reps 15] [--baseline DIR]
 *
 * `--baseline DIR` also times another checkout (an earlier commit, its dist/
 * built) in the same interleaved run, both ways: "today's time" beside ours.
 *
 * Needs `npm run build:dist` first. Prints a table (medians, and the fastest
 * run of each: on a shared machine the minimum is the run least disturbed by
 * other work), the load average before and after, and one `BENCH_JSON` line.
 * A benchmark script, never a test: nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, median, table } from './lib/stats.js';

const { values: opts } = parseArgs({ options: { reps: { type: 'string', default: '15' }, baseline: { type: 'string' } } });
const reps = Number(opts.reps);
const root = new URL('..', import.meta.url).pathname;
const trees: Record<string, string> = { '': root, ...(opts.baseline !== undefined ? { 'baseline ': opts.baseline } : {}) };
for (const dir of Object.values(trees)) {
  if (!existsSync(join(dir, 'dist/cli/main.js'))) throw new Error(`${dir}: dist/ is missing: npm run build:dist there first`);
}

const commands = [['--version'], ['--help'], ['run', '--help']];
/** Every way a start is timed: tree × (dist, tsx). */
const modes = Object.entries(trees).flatMap(([label, dir]) => [
  { name: `${label}dist`, bin: join(dir, 'bin/peer-observer.js'), useDist: '1' },
  { name: `${label}tsx`, bin: join(dir, 'bin/peer-observer.js'), useDist: '0' },
]);

function once(args: string[], mode: (typeof modes)[number]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [mode.bin, ...args], {
    env: { ...process.env, PEER_OBSERVER_USE_DIST: mode.useDist, NODE_OPTIONS: '' },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${mode.name} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const loadBefore = loadavg()[0]!;
const times: Record<string, Record<string, number[]>> = {};
for (const args of commands) {
  const key = args.join(' ');
  times[key] = Object.fromEntries(modes.map((m) => [m.name, [] as number[]]));
  // One warm-up each: tsx's transform cache and the OS page cache, as a user's second start sees them.
  for (const m of modes) once(args, m);
  for (let i = 0; i < reps; i++) for (const m of modes) times[key]![m.name]!.push(once(args, m));
}
const loadAfter = loadavg()[0]!;

const pct = (a: number, b: number) => `${fmt((100 * a) / b, 0)} %`;
const rows = Object.entries(times).map(([key, t]) => {
  const d = median(t.dist!);
  const s = median(t.tsx!);
  const row = [key, `${fmt(d, 0)} ms`, `${fmt(s, 0)} ms`, pct(d, s), `${fmt(Math.min(...t.dist!), 0)} / ${fmt(Math.min(...t.tsx!), 0)} ms`];
  row.push(pct(Math.min(...t.dist!), Math.min(...t.tsx!)));
  if (opts.baseline !== undefined) {
    const bd = median(t['baseline dist']!);
    const bs = median(t['baseline tsx']!);
    row.push(`${fmt(bd, 0)} ms`, `${fmt(bs, 0)} ms`, pct(d, bs));
  }
  return row;
});
const header = ['command', 'compiled (dist/)', 'sources via tsx', 'compiled / tsx', 'fastest: dist / tsx', 'fastest ratio'];
if (opts.baseline !== undefined) header.push('baseline dist/', 'baseline tsx', 'compiled / baseline tsx');
console.log(table(header, rows));
console.log(`reps ${reps}; 1-minute load average ${fmt(loadBefore, 2)} before, ${fmt(loadAfter, 2)} after (2 cores)`);
console.log(
  'BENCH_JSON ' +
    JSON.stringify({
      load: { before: loadBefore, after: loadAfter },
      ...Object.fromEntries(
        Object.entries(times).map(([k, t]) => [
          k,
          Object.fromEntries(Object.entries(t).map(([m, v]) => [m, { medianMs: median(v), minMs: Math.min(...v) }])),
        ]),
      ),
    }),
);
