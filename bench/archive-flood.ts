/**
 * bench/archive-flood: what a flood does to the archive's disk, through the
 * real bin. Starts `peer-observer run --data-dir` (a fresh archive), sends a
 * flood over real TCP from one peer (test/archive/flood.ts: addr messages of
 * 1000 random entries as fast as the observer reads them, or pings at a
 * rate), waits for the observer to answer a ping sent after it, stops the
 * observer, and reports: bytes received (on the wire, headers included), the
 * archive's size on disk (database + WAL) at its peak (sampled every 10 ms)
 * and at the end, bytes on disk per byte received, the observer's archive
 * counters, and `query --count` for the flood's command.
 *
 *   npm run bench:archive-flood -- [--command addr|ping] [--count 20000] [--rate N] [--fold-rate N] [--max-db-mb N]
 *
 * Before/after in one place: `--fold-rate 0 --max-db-mb 0` is the archive
 * without folding or a cap (as before both existed). A benchmark script,
 * never a test: nothing here asserts a size.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fileBytes } from '../src/consumers/archive/db.js';
import { flood } from '../test/archive/flood.js';

const BIN = fileURLToPath(new URL('../bin/peer-observer.js', import.meta.url));
const { values: a } = parseArgs({
  options: {
    command: { type: 'string', default: 'addr' },
    count: { type: 'string', default: '20000' },
    rate: { type: 'string' },
    'fold-rate': { type: 'string' },
    'max-db-mb': { type: 'string' },
  },
});
const command = a.command as 'addr' | 'ping';
const dir = mkdtempSync(join(tmpdir(), 'po-bench-flood-'));
const args = ['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dir];
if (a['fold-rate'] !== undefined) args.push('--fold-rate', a['fold-rate']);
if (a['max-db-mb'] !== undefined) args.push('--max-db-mb', a['max-db-mb']);
const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
let err = '';
child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
try {
  while (!/listening on [^\s,]+:(\d+)/.test(err)) await new Promise((r) => setTimeout(r, 20));
  const port = Number(/listening on [^\s,]+:(\d+)/.exec(err)![1]);
  await new Promise((r) => setTimeout(r, 500)); // the writer thread's start
  const start = fileBytes(dir);
  let peak = start;
  const poll = setInterval(() => (peak = Math.max(peak, fileBytes(dir))), 10);
  const r = await flood({ port, command, count: Number(a.count), ...(a.rate ? { perSecond: Number(a.rate) } : {}) });
  child.kill('SIGINT');
  await exited;
  clearInterval(poll);
  peak = Math.max(peak, fileBytes(dir));
  const end = fileBytes(dir);
  const q = spawn(process.execPath, [BIN, 'query', '--data-dir', dir, '--count', '--command', command], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let counts = '';
  q.stdout!.setEncoding('utf8').on('data', (s: string) => (counts += s));
  await new Promise((res) => q.on('exit', res));
  const line = err.split('\n').find((l) => l.includes('archive: received=')) ?? '';
  const result = {
    command,
    sent: r.sent,
    wireBytes: r.bytes,
    seconds: +(r.ms / 1000).toFixed(1),
    archiveStartBytes: start,
    archivePeakBytes: peak,
    archiveEndBytes: end,
    peakPerWireByte: +((peak - start) / r.bytes).toFixed(3),
    endPerWireByte: +((end - start) / r.bytes).toFixed(3),
    query: counts.trim(),
    counters: line.replace(/^.*archive: /, ''),
    flags: args.slice(7).join(' ') || '(defaults)',
  };
  console.log(`flood: ${r.sent} ${command} (${(r.bytes / 1e6).toFixed(1)} MB on the wire) in ${result.seconds} s; flags ${result.flags}`);
  console.log(
    `archive: ${(start / 1e6).toFixed(2)} MB → peak ${(peak / 1e6).toFixed(2)} MB, end ${(end / 1e6).toFixed(2)} MB; ` +
      `disk bytes per wire byte: peak ${result.peakPerWireByte}, end ${result.endPerWireByte}`,
  );
  console.log(`query --count --command ${command}: ${result.query}`);
  console.log(`counters: ${result.counters}`);
  console.log(`BENCH_JSON ${JSON.stringify(result)}`);
} finally {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
