/**
 * `run --http` and `--http-token` through the real bin, from flags, the
 * environment and the config file; the bind rule's one-line error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadRunConfig } from '../../src/cli/config.js';
import { type Cli, runCli, startCli } from './helpers.js';

const TOKEN = 'cli-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'peer-observer-http-cli-'));
const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

async function httpUrl(args: string[], env?: Record<string, string>): Promise<{ cli: Cli; url: string }> {
  const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', ...args], env ? { env } : {});
  children.push(cli);
  await cli.until(() => /HTTP at (http:\/\/\S+)/.test(cli.stderr()), 'HTTP line', 15_000);
  return { cli, url: /HTTP at (http:\/\/[^\s;]+)/.exec(cli.stderr())![1]! };
}

async function status(url: string, token?: string): Promise<number> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('peer-observer run --http', { timeout: 60_000 }, () => {
  it('--http host:port serves /metrics and the API; without --http-token no token is asked', async () => {
    const { cli, url } = await httpUrl(['--http', '127.0.0.1:0']);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(cli.stderr(), /token required/);
    assert.equal(await status(`${url}/metrics`), 200);
    assert.equal(await status(`${url}/api/peers`), 200);
    assert.equal(await cli.stop(), 0);
  });

  it('--http PORT binds 127.0.0.1', async () => {
    const port = await freePort();
    const { cli, url } = await httpUrl(['--http', String(port)]);
    assert.equal(url, `http://127.0.0.1:${port}`);
    assert.equal(await status(`${url}/healthz`), 200);
    assert.equal(await cli.stop(), 0);
  });

  it('--http-token: requests without it get 401, with it 200', async () => {
    const { cli, url } = await httpUrl(['--http', '127.0.0.1:0', '--http-token', TOKEN]);
    assert.match(cli.stderr(), /\(token required\)/);
    assert.doesNotMatch(cli.stderr(), new RegExp(TOKEN), 'the token is never printed');
    assert.equal(await status(`${url}/metrics`), 401);
    assert.equal(await status(`${url}/metrics`, 'wrong-token-0123456789'), 401);
    assert.equal(await status(`${url}/metrics`, TOKEN), 200);
    assert.equal(await cli.stop(), 0);
  });

  it('PEER_OBSERVER_HTTP and PEER_OBSERVER_HTTP_TOKEN', async () => {
    const { cli, url } = await httpUrl([], { PEER_OBSERVER_HTTP: '127.0.0.1:0', PEER_OBSERVER_HTTP_TOKEN: TOKEN });
    assert.equal(await status(`${url}/api/events`), 401);
    assert.equal(await status(`${url}/api/events`, TOKEN), 200);
    assert.equal(await cli.stop(), 0);
  });

  it('"http" and "httpToken" in the config file', async () => {
    const file = join(dir, 'http.json');
    writeFileSync(file, JSON.stringify({ http: '127.0.0.1:0', httpToken: TOKEN }));
    const { cli, url } = await httpUrl(['--config', file]);
    assert.equal(await status(`${url}/api/alerts`), 401);
    assert.equal(await status(`${url}/api/alerts`, TOKEN), 200);
    assert.equal(await cli.stop(), 0);
  });

  it('a non-loopback bind without a token is refused with one clear line', async () => {
    for (const host of ['0.0.0.0:9333', '[::]:9333', '192.0.2.1:9333']) {
      const r = await runCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', host]);
      assert.equal(r.code, 2, host);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^peer-observer: error: --http .*: binding the HTTP server to a non-loopback address needs --http-token/);
    }
    // The environment can carry the token instead (checked without binding: tests stay on loopback).
    const config = loadRunConfig({ flags: { http: '0.0.0.0:9333' }, env: { PEER_OBSERVER_HTTP_TOKEN: TOKEN } });
    assert.deepEqual(config.http, { host: '0.0.0.0', port: 9333, token: TOKEN });
  });

  it('bad values: one line, exit 2, the token never echoed', async () => {
    const cases: [string[], RegExp][] = [
      [['--http', '127.0.0.1:99999'], /--http "127\.0\.0\.1:99999": expected "host:port"/],
      [['--http', 'nonsense'], /--http "nonsense": expected/],
      [['--http-token', TOKEN], /--http-token needs --http/],
      [['--http', '127.0.0.1:0', '--http-token', 'short'], /--http-token \(hidden\): expected 16 to 256 printable characters/],
      [['--http', '127.0.0.1:0', '--http-token', 'has a space in it 0123'], /--http-token \(hidden\)/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['run', '--network', 'regtest', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.doesNotMatch(r.stderr, /short|has a space/);
    }
  });

  it('a port in use is a runtime error (exit 1)', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await runCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', `127.0.0.1:${port}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--http: cannot listen on 127\.0\.0\.1:\d+: address already in use/);
    } finally {
      busy.close();
    }
  });
});

describe('peer-observer run --asmap/--geoip-asn, demo --http', { timeout: 60_000 }, () => {
  it('--asmap FILE: peers get ASNs on the dashboard; bad files, a missing --http and both flags are one-line errors', async () => {
    const good = join(dir, 'all-as1.map');
    writeFileSync(good, new Uint8Array([0, 0, 0])); // RETURN 1: every address is AS1
    const { cli, url } = await httpUrl(['--http', '127.0.0.1:0', '--asmap', good]);
    assert.match(cli.stderr(), /dashboard at http:\/\/127\.0\.0\.1:\d+\/ \(ASNs from asmap /);
    assert.equal(await status(`${url}/`), 200);
    assert.equal(await cli.stop(), 0);
    const bad = join(dir, 'bad.map');
    writeFileSync(bad, new Uint8Array([0xff, 0xff, 0xff]));
    const notMmdb = join(dir, 'not.mmdb');
    writeFileSync(notMmdb, 'not a database');
    const cases: [string[], RegExp][] = [
      [['--http', '127.0.0.1:0', '--asmap', bad], /--asmap .*bad\.map: not a valid asmap file/],
      [['--http', '127.0.0.1:0', '--asmap', join(dir, 'missing.map')], /--asmap .*missing\.map: no such file/],
      [['--asmap', good], /--asmap needs --http/],
      [['--http', '127.0.0.1:0', '--geoip-asn', notMmdb], /--geoip-asn .*not\.mmdb: not a MaxMind database/],
      [['--http', '127.0.0.1:0', '--asmap', good, '--geoip-asn', notMmdb], /one of --asmap or --geoip-asn/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('demo --http serves the dashboard (loopback only)', async () => {
    const cli = startCli(['demo', '--duration', '20', '--http', '127.0.0.1:0', '--no-attacks']);
    children.push(cli);
    await cli.until(() => /dashboard at (http:\/\/\S+)\//.test(cli.stderr()), 'dashboard line', 15_000);
    const url = /dashboard at (http:\/\/[^\s;]+)\//.exec(cli.stderr())![1]!;
    assert.equal(await status(`${url}/`), 200);
    assert.equal(await status(`${url}/api/peers`), 200);
    assert.equal(await cli.stop(), 0);
    const r = await runCli(['demo', '--duration', '1', '--http', '0.0.0.0:0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--http "0\.0\.0\.0:0": the demo serves HTTP on loopback only/);
  });
});
