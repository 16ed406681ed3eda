/**
 * The package as a user gets it: `npm pack`, installed into an empty directory
 * (dependencies from the npm cache or registry, better-sqlite3 built there), then
 * run with plain Node — no tsx, no TypeScript sources. The bin runs `demo`, the
 * `peer-observer/protocol` subpath decodes a frame, a TypeScript file importing
 * `peer-observer/events` type-checks, and the tarball holds what a user needs and
 * nothing of the tests, benches or fixtures.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'po-pack-'));
const app = join(dir, 'app');
let tarball = '';
// The bin refuses PEER_OBSERVER_* variables it does not know; a user's shell has none of the test runner's.
const userEnv = { PATH: process.env.PATH, HOME: process.env.HOME };

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env }, timeout: 480_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('the packed package, installed and run with plain Node', { timeout: 600_000 }, () => {
  before(() => {
    sh('npm', ['pack', '--silent', '--pack-destination', dir], ROOT);
    tarball = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tgz'))!,
    );
    execFileSync('mkdir', [app]);
    // npm 11 runs a dependency's install script only when the installing project allows it.
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'po-pack-user', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } }),
    );
    const tsVersion = (createRequire(import.meta.url)('typescript/package.json') as { version: string }).version;
    const typesNode = (createRequire(import.meta.url)('@types/node/package.json') as { version: string }).version;
    sh(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${tsVersion}`, `@types/node@${typesNode}`],
      app,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the compiled code, the dashboard build, deploy/ and docs, and no tests, benches, fixtures or TypeScript sources', () => {
    const files = sh('tar', ['tzf', tarball], dir).split('\n').filter(Boolean);
    const top = new Set(files.map((f) => f.split('/')[1]));
    assert.deepEqual([...top].sort(), ['README.md', 'bin', 'deploy', 'dist', 'docs', 'package.json', 'web']);
    assert.ok(files.includes('package/dist/cli/main.js'));
    assert.ok(files.includes('package/dist/events/index.d.ts'));
    assert.ok(files.includes('package/dist/threads/bootstrap.mjs'));
    assert.ok(files.includes('package/web/dist/index.html'));
    assert.ok(files.includes('package/deploy/bpftrace/peer-observer.bt'));
    assert.deepEqual(
      files.filter((f) => /\/(test|bench|fixtures|src)\/|\.test\.|\.ts$/.test(f) && !f.endsWith('.d.ts')),
      [],
    );
    assert.equal(existsSync(join(app, 'node_modules/tsx')), false, 'tsx is a dev dependency only');
  });

  it('npx peer-observer demo --duration 10 runs the compiled bin', () => {
    const r = spawnSync('npx', ['peer-observer', 'demo', '--duration', '10'], {
      cwd: app,
      encoding: 'utf8',
      env: userEnv,
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# CONN .* opened inbound/m);
    assert.match(r.stdout, /^<-- .* version \d+B version=70016/m);
  });

  it('run --data-dir archives through the compiled writer thread, and query reads it back', async () => {
    const data = join(dir, 'data');
    const bin = join(app, 'node_modules/.bin/peer-observer');
    const child = spawn(bin, ['run', '--listen', '127.0.0.1:0', '--data-dir', data, '--node-id', 'packed'], {
      cwd: app,
      env: userEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise((r) => child.once('exit', r));
    const deadline = Date.now() + 20_000;
    while (!/listening on 127\.0\.0\.1:(\d+)/.test(err)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `no listening line: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)![1]);
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.end();
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    await exited;
    assert.equal(child.exitCode, 0, err);
    const rows = sh(bin, ['query', '--data-dir', data, '--type', 'connection.opened', '--json'], app).trim().split('\n');
    assert.equal(rows.length, 1);
    assert.equal((JSON.parse(rows[0]!) as { nodeId: string }).nodeId, 'packed');
  });

  it('peer-observer/protocol decodes a frame in plain Node', () => {
    const script = `
      import { encodeMessageFrame, FrameDecoder, decodeMessage, msg, NETWORKS } from 'peer-observer/protocol';
      const frame = encodeMessageFrame(NETWORKS.regtest, msg('ping', { nonce: 42n }));
      const [item] = new FrameDecoder({ network: NETWORKS.regtest }).push(frame);
      if (item.type !== 'frame') throw new Error(JSON.stringify(item));
      const m = decodeMessage(item.frame.command, item.frame.payload);
      console.log(JSON.stringify({ command: m.command, nonce: String(m.payload.nonce) }));`;
    const out = sh(process.execPath, ['--input-type=module', '-e', script], app);
    assert.deepEqual(JSON.parse(out), { command: 'ping', nonce: '42' });
  });

  it('a TypeScript file importing peer-observer/events type-checks (and a wrong one does not)', () => {
    const tsconfig = {
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'] },
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    writeFileSync(
      join(app, 'good.ts'),
      `import { parseEvent, type ObserverEvent } from 'peer-observer/events';\n` +
        `export function nodeOf(raw: unknown): string { const e: ObserverEvent = parseEvent(raw); return e.nodeId; }\n`,
    );
    sh(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], app);
    writeFileSync(
      join(app, 'bad.ts'),
      `import { parseEvent } from 'peer-observer/events';\nexport const n: number = parseEvent({}).nodeId;\n`,
    );
    const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { cwd: app, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /bad\.ts.*Type 'string' is not assignable to type 'number'/);
  });
});
