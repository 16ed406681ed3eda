/** Bad flags, environment and config: one line on stderr, the right exit code, never a stack trace. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0]!, /^peer-observer: error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

const usage: [string, string[], RegExp, Record<string, string>?][] = [
  [
    'unknown network',
    ['run', '--network', 'bitcoin'],
    /--network "bitcoin": expected one of mainnet, testnet3, testnet4, signet, regtest$/,
  ],
  ['bad --listen', ['run', '--listen', 'x'], /--listen "x": missing port: expected host:port$/],
  ['bad --listen port', ['run', '--listen', '127.0.0.1:70000'], /--listen "127.0.0.1:70000": invalid port/],
  ['bad --listen host', ['run', '--listen', '300.1.1.1:8333'], /--listen "300.1.1.1:8333": invalid IPv4 address/],
  ['bad --connect', ['run', '--connect', '127.0.0.1:0'], /--connect "127.0.0.1:0": invalid port/],
  ['bad --node-id', ['run', '--node-id', 'a b'], /--node-id "a b": expected 1-64 letters/],
  ['bad --max-connections', ['run', '--max-connections', 'many'], /--max-connections "many": expected an integer from 1 to 1000000$/],
  ['bad --max-per-ip', ['run', '--max-per-ip', '0'], /--max-per-ip "0": expected an integer from 1 to 1000000$/],
  ['bad --handshake-timeout', ['run', '--handshake-timeout', '-5'], /--handshake-timeout "-5": expected a number of seconds$/],
  ['missing --config file', ['run', '--config', join(dir, 'nope.json')], /--config ".*nope\.json": cannot read: no such file$/],
  ['--config is a directory', ['run', '--config', dir], /cannot read: is a directory$/],
  [
    'unknown config key',
    ['run', '--config', file('unknown.json', '{"network":"regtest","colour":"blue"}')],
    /config file ".*unknown\.json": unknown key "colour"$/,
  ],
  [
    'bad config value',
    ['run', '--config', file('bad.json', '{"listen":["127.0.0.1:0","nope"]}')],
    /config file ".*bad\.json": listen\[1\] "nope": missing port/,
  ],
  [
    'bad config type',
    ['run', '--config', file('type.json', '{"maxPerIp":"8"}')],
    /config file ".*type\.json": maxPerIp "8": expected an integer/,
  ],
  ['invalid JSON config', ['run', '--config', file('broken.json', '{"network": ')], /config file ".*broken\.json": invalid JSON: /],
  ['config not an object', ['run', '--config', file('array.json', '[]')], /expected a JSON object$/],
  ['unknown env var', ['run'], /unknown environment variable PEER_OBSERVER_NETWROK /, { PEER_OBSERVER_NETWROK: 'regtest' }],
  ['bad env value', ['run'], /PEER_OBSERVER_JSON "maybe": expected true or false$/, { PEER_OBSERVER_JSON: 'maybe' }],
  ['missing PEER_OBSERVER_CONFIG file', ['run'], /PEER_OBSERVER_CONFIG ".*": cannot read/, { PEER_OBSERVER_CONFIG: '/nonexistent/x.json' }],
  ['unknown option', ['run', '--colour'], /unknown option '--colour'$/],
  ['missing option value', ['run', '--listen'], /argument missing$/],
  ['unknown command', ['runn'], /unknown command 'runn'/],
  ['demo --peers 0', ['demo', '--peers', '0'], /--peers "0": expected an integer from 1 to 200$/],
  ['demo --peers x', ['demo', '--peers', 'x'], /--peers "x": expected an integer from 1 to 200$/],
  ['demo --duration 0', ['demo', '--duration', '0'], /--duration "0": expected a number of seconds greater than 0$/],
  ['demo --duration soon', ['demo', '--duration', 'soon'], /--duration "soon": expected a number of seconds greater than 0$/],
  ['demo --network', ['demo', '--network', 'testnet'], /--network "testnet": expected one of/],
];

describe('peer-observer errors', { timeout: 120_000, concurrency: 4 }, () => {
  for (const [name, args, pattern, env] of usage) {
    it(`${name} → exit 2`, async () => {
      const r = await runCli(args, env ? { env } : {});
      assert.equal(r.code, 2, r.stderr);
      assertOneLine(r.stderr, pattern);
      assert.equal(r.stdout, '');
    });
  }

  it('port in use → exit 1, one line', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await runCli(['run', '--network', 'regtest', '--listen', `127.0.0.1:${port}`]);
      assert.equal(r.code, 1);
      assertOneLine(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('--help and --version exit 0 on stdout', async () => {
    for (const args of [['--help'], ['run', '--help'], ['demo', '--help'], ['--version']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.length > 0);
    }
    const run = await runCli(['run', '--help']);
    for (const flag of [
      '--network',
      '--listen',
      '--connect',
      '--json',
      '--node-id',
      '--config',
      '--max-connections',
      '--max-per-ip',
      '--handshake-timeout',
    ]) {
      assert.ok(run.stdout.includes(flag), flag);
    }
  });
});
