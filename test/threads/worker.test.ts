/**
 * Worker threads (src/threads/worker.ts) start under the node flags an operator
 * may give the process. A Worker refuses V8 and per-process flags passed to it
 * (`--max-old-space-size`, ...): the archive's writer thread died at every
 * start under `node --max-old-space-size=...` and every event was counted as
 * failed. Each case runs the real archive writer and the real v2 key pool in
 * a child process started with those flags.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { refusedFlags, workerExecArgv } from '../../src/threads/worker.js';

const root = mkdtempSync(join(tmpdir(), 'po-threads-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const src = (path: string) => JSON.stringify(new URL(`../../src/${path}`, import.meta.url).href);

/** Archives 5 events through the writer thread and fills a key pool from its thread; prints what each did. */
const body = (dataDir: string) => `
  const { EmbeddedBus } = await import(${src('bus/embedded.ts')});
  const { startArchive } = await import(${src('consumers/archive/consumer.ts')});
  const { V2KeyPool } = await import(${src('sources/p2p/v2-keys.ts')});
  const { message } = await import(${JSON.stringify(new URL('../archive/events.ts', import.meta.url).href)});
  const bus = new EmbeddedBus();
  const archive = startArchive(bus, { dataDir: ${JSON.stringify(dataDir)}, flushMs: 10, onError: (e) => console.log('error', e.message) });
  for (let i = 0; i < 5; i++) bus.publish(message(i));
  await bus.close();
  await archive.done;
  const c = archive.counters();
  console.log('archive', c.written, c.failed);
  const pool = new V2KeyPool(4);
  for (let i = 0; i < 300 && pool.ready < 4 && !pool.counters().failure; i++) await new Promise((r) => setTimeout(r, 50));
  console.log('keys', pool.ready, pool.counters().failure ?? 'no failure');
  await pool.close();
`;

async function runNode(args: string[]): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(code, 0, err);
  return out;
}

describe('worker threads under the process flags', () => {
  it('V8 heap and stack flags on the process: the archive writes every event and the key pool fills from its thread', async () => {
    const dataDir = join(root, `a${dirs++}`);
    const out = await runNode([
      '--max-old-space-size=192',
      '--max-semi-space-size=8',
      '--stack-size=900',
      '--import',
      'tsx',
      '-e',
      `(async () => { ${body(dataDir)} })().catch((e) => { console.error(e); process.exit(1); });`,
    ]);
    assert.equal(out, 'archive 5 0\nkeys 4 no failure\n');
  });

  it('the same with --input-type (`node -e` of a module), whose flags are passed to the thread by hand', async () => {
    const dataDir = join(root, `a${dirs++}`);
    const out = await runNode([
      '--input-type=module',
      '--max-old-space-size=192',
      '--stack-size=900',
      '--import',
      'tsx',
      '-e',
      body(dataDir),
    ]);
    assert.equal(out, 'archive 5 0\nkeys 4 no failure\n');
  });

  it('flags are inherited unless --input-type must be taken out; the flags Node names as refused are read from its message', () => {
    assert.equal(workerExecArgv(['--max-old-space-size=96', '--enable-source-maps']), undefined);
    assert.deepEqual(workerExecArgv(['--input-type', 'module', '--enable-source-maps', '--input-type=module']), ['--enable-source-maps']);
    assert.deepEqual(refusedFlags('Initiated Worker with invalid execArgv flags: --max-old-space-size=160, --stack-size=100'), [
      '--max-old-space-size=160',
      '--stack-size=100',
    ]);
    assert.deepEqual(refusedFlags('something else'), []);
  });
});
