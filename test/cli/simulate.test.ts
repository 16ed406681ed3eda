/** `peer-observer simulate`: every flag, the loopback-only rule (nothing dialled), and a real run against a real observer. */
import assert from 'node:assert/strict';
import { createServer, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { startObserver } from '../../src/sources/p2p/observer.js';
import { runCli } from './helpers.js';

/** Run the CLI in this process with Socket#connect replaced by a recorder that fails: nothing can be dialled. */
async function mainNoConnect(args: string[]): Promise<{ code: number; stdout: string; stderr: string; dialled: string[] }> {
  const dialled: string[] = [];
  const original = Socket.prototype.connect;
  Socket.prototype.connect = function (this: Socket, ...a: unknown[]) {
    // net.connect() hands Socket#connect its normalised arguments as one array.
    const first = Array.isArray(a[0]) ? (a[0] as unknown[])[0] : a[0];
    const o = first as { host?: string; port?: number };
    dialled.push(`${o.host}:${o.port}`);
    process.nextTick(() => this.emit('error', Object.assign(new Error('ECONNREFUSED (test)'), { code: 'ECONNREFUSED' })));
    return this;
  } as typeof Socket.prototype.connect;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const code = await main(args, { io: { stdout, stderr }, env: {}, signal: new AbortController().signal });
    return { code, stdout: out, stderr: err, dialled };
  } finally {
    Socket.prototype.connect = original;
  }
}

describe('peer-observer simulate', { timeout: 60_000 }, () => {
  const events: ObserverEvent[] = [];
  let observer: Awaited<ReturnType<typeof startObserver>> | undefined;
  after(() => observer?.stop());

  it('refuses a non-loopback target with one line, exit 2, before any connection attempt', async () => {
    const r = await mainNoConnect(['simulate', '--target', '192.0.2.1:8333', '--scenario', 'addr-flood-2021']);
    assert.equal(r.code, 2);
    assert.deepEqual(r.dialled, [], 'nothing dialled');
    assert.match(
      r.stderr,
      /^peer-observer: error: --target "192\.0\.2\.1:8333": target 192\.0\.2\.1 is not a loopback address.*--allow-non-loopback/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(r.stdout, '');
    // The same through the real bin.
    const bin = await runCli(['simulate', '--target', '192.0.2.1', '--scenario', 'linkinglion', '--network', 'mainnet']);
    assert.equal(bin.code, 2);
    assert.match(bin.stderr, /^peer-observer: error: --target "192\.0\.2\.1": target 192\.0\.2\.1 is not a loopback address/);
    assert.equal(bin.stderr.trim().split('\n').length, 1);
  });

  it('--allow-non-loopback lets a non-loopback target through (here to a recorder, never the network)', async () => {
    const r = await mainNoConnect([
      'simulate',
      '--target',
      '192.0.2.1:8333',
      '--scenario',
      'ping-spam',
      '--allow-non-loopback',
      '--duration',
      '5',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.dialled.length >= 5 && r.dialled.every((d) => d === '192.0.2.1:8333'), r.dialled.join(' '));
    assert.match(r.stderr, /peer-observer: error: cannot connect to 192\.0\.2\.1:8333: /);
  });

  it('a loopback target that refuses connections: exit 1, one error line', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const r = await runCli(['simulate', '--target', `127.0.0.1:${port}`, '--scenario', 'honest', '--duration', '10']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`peer-observer: error: cannot connect to 127\\.0\\.0\\.1:${port}: `));
  });

  it('--target --scenario --duration --peers --rate --network --json against a real observer', async () => {
    observer = await startObserver({
      network: NETWORKS.signet,
      nodeId: 'cli-sim',
      listen: [{ host: '127.0.0.1', port: 0 }],
      connect: [],
      publish: (e) => events.push(e),
    });
    const port = observer.listening[0]!.port;
    const t0 = Date.now();
    const r = await runCli(
      [
        'simulate',
        '--target',
        `127.0.0.1:${port}`,
        '--scenario',
        'linkinglion',
        '--duration',
        '1.5',
        '--peers',
        '2',
        '--rate',
        '6',
        '--network',
        'signet',
        '--json',
      ],
      { timeoutMs: 15_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(
      r.stderr,
      /^peer-observer simulate: linkinglion against 127\.0\.0\.1:\d+ \(signet\), 2 peer\(s\), rate 6 \(new connections per second in total\); stopping after 1\.5s\n$/,
    );
    const result = JSON.parse(r.stdout) as { scenario: string; peers: number; rate: number; stats: { connections: number } };
    assert.equal(result.scenario, 'linkinglion');
    assert.equal(result.peers, 2);
    assert.equal(result.rate, 6);
    assert.ok(result.stats.connections >= 5 && result.stats.connections <= 11, String(result.stats.connections));
    await new Promise((res) => setTimeout(res, 200));
    const versions = events.filter((e) => e.type === 'handshake.version');
    assert.equal(versions.length, result.stats.connections, 'the observer saw every connection (on signet: the magic matched)');
    assert.ok(versions.every((e) => e.type === 'handshake.version' && e.data.nonce === '0' && e.data.conn.remote.startsWith('127.54.98.')));
  });

  it('text summary by default; scenario defaults when --peers/--rate are absent', async () => {
    const port = observer!.listening[0]!.port;
    const r = await runCli([
      'simulate',
      '--target',
      `127.0.0.1:${port}`,
      '--scenario',
      'time-offset',
      '--duration',
      '1',
      '--network',
      'signet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /4 peer\(s\), rate 2 /);
    assert.match(
      r.stdout,
      /^peer-observer simulate: time-offset done after 1\.\ds: connections=4 handshakes=4 connectFailures=0 bytesSent=\d+ offsetHandshakes=4\n$/,
    );
  });

  it('--list documents every scenario', async () => {
    const r = await runCli(['simulate', '--list']);
    assert.equal(r.code, 0);
    for (const name of [
      'addr-flood-2021',
      'linkinglion',
      'inbound-flooder',
      'netgroup-eclipse',
      'ping-spam',
      'inv-spam',
      'time-offset',
      'malformed',
      'slowloris',
      'tx-probe',
      'honest',
    ]) {
      assert.match(
        r.stdout,
        new RegExp(
          `^${name}\\n  .+\\n  sources: .+\\n  --peers default \\d+; --rate default [\\d.]+ \\(.+\\)\\n  a detector sees: .+`,
          'm',
        ),
      );
    }
  });

  it('bad values: one line naming the flag, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--scenario', 'nope', '--target', '127.0.0.1:1'], /--scenario "nope": expected one of addr-flood-2021, /],
      [['--target', '127.0.0.1:1'], /--scenario is required/],
      [['--scenario', 'honest'], /--target host:port is required/],
      [['--scenario', 'honest', '--target', '127.0.0.1:99999'], /--target "127\.0\.0\.1:99999": invalid port/],
      [['--scenario', 'honest', '--target', '127.0.0.1:1', '--peers', '0'], /--peers "0": expected an integer from 1 to 5000/],
      [['--scenario', 'honest', '--target', '127.0.0.1:1', '--peers', '2.5'], /--peers "2\.5": expected an integer/],
      [['--scenario', 'honest', '--target', '127.0.0.1:1', '--rate', 'fast'], /--rate "fast": expected a number greater than 0/],
      [['--scenario', 'honest', '--target', '127.0.0.1:1', '--duration', '-1'], /--duration "-1": expected a number of seconds/],
      [['--scenario', 'honest', '--target', '127.0.0.1:1', '--network', 'moon'], /--network "moon": expected one of mainnet/],
    ];
    for (const [args, re] of cases) {
      const r = await mainNoConnect(['simulate', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(r.dialled, []);
    }
  });
});
