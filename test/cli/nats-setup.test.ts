/**
 * `peer-observer nats setup` and `--nats-mode`, through the real bin against a
 * real nats-server with JetStream (and one without): the stream created with
 * the flags' limits, checked, changed; every flag's bad value one line and
 * exit 2; the mode said in one line at start (flag, env, config file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { runCli, startCli, type Cli } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'po-setup-'));
const servers: NatsServer[] = [];
const clis: Cli[] = [];
after(async () => {
  await Promise.all(clis.map((c) => c.stop('SIGKILL')));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  rmSync(root, { recursive: true, force: true });
});

describe('nats setup and --nats-mode (real nats-server)', { timeout: 90_000 }, () => {
  it('creates the stream with the given limits, checks it, changes it; bad values are usage errors', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const created = await runCli([
      'nats',
      'setup',
      '--nats',
      server.url,
      '--max-age',
      '2h',
      '--max-bytes',
      '64M',
      '--replicas',
      '1',
      '--duplicate-window',
      '30s',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /^created: stream PEER_OBSERVER: 0 messages, 0 bytes \(0\.0 % of max 67108864\), .* max age 7200 s, R1, duplicate window 30 s\n$/,
    );
    const checked = await runCli(['nats', 'setup', '--max-age', '2h', '--max-bytes', '64M', '--duplicate-window', '30s'], {
      env: { PEER_OBSERVER_NATS: server.url },
    });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^checked, limits as asked: stream PEER_OBSERVER/);
    const changed = await runCli(['nats', 'setup', '--nats', server.url, '--max-bytes', '1G'], {
      env: { PEER_OBSERVER_STREAM_MAX_AGE: '2h' },
    });
    assert.match(
      changed.stdout,
      /^updated \(max bytes 67108864, want 1073741824; duplicate window 30000 ms, want 120000\): .* of max 1073741824/,
    );
    // A second stream over the same subjects is the server's error, in one line.
    const named = await runCli(['nats', 'setup', '--nats', server.url, '--stream-name', 'OTHER']);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /NATS stream OTHER: .*subjects overlap/);
    for (const [flag, value, message] of [
      ['--max-age', '5', /--max-age "5": expected a duration/],
      ['--max-bytes', '10k', /--max-bytes "10k": expected a size of at least 1M/],
      ['--replicas', '7', /--replicas "7": expected a number of copies/],
      ['--duplicate-window', '1y', /--duplicate-window "1y": expected a duration/],
      ['--stream-name', 'a.b', /--stream-name "a\.b": expected/],
    ] as const) {
      const r = await runCli(['nats', 'setup', '--nats', server.url, flag, value]);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const noJs = await startNatsServer();
    servers.push(noJs);
    const refused = await runCli(['nats', 'setup', '--nats', noJs.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the server has no JetStream/);
  });

  it('--nats-mode: said at start in one line; core on a JetStream server, jetstream refused without one; flag, env and config file', async () => {
    const js = await startNatsServer({ jetstream: true });
    const core = await startNatsServer();
    servers.push(js, core);
    const base = ['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', 'mode-1'];
    const started = async (args: string[], env?: Record<string, string>) => {
      const cli = startCli(args, env ? { env } : {});
      clis.push(cli);
      await cli.until(() => /listening on/.test(cli.stderr()), 'listening', 15_000);
      assert.equal(await cli.stop('SIGTERM'), 0, cli.stderr());
      return cli.stderr();
    };
    assert.match(await started([...base, '--nats', js.url]), /peer-observer: NATS: JetStream, created stream PEER_OBSERVER/);
    // /healthz says the mode and the stream's state (what its limits removed).
    const withHttp = startCli([...base, '--nats', js.url, '--http', '127.0.0.1:0']);
    clis.push(withHttp);
    await withHttp.until(() => /HTTP at http:\/\/127\.0\.0\.1:\d+/.test(withHttp.stderr()), 'http', 15_000);
    const httpUrl = /HTTP at (http:\/\/127\.0\.0\.1:\d+)/.exec(withHttp.stderr())![1]!;
    let health: { nats?: { mode: string; connected: boolean; stream: { messages: number; removed: number; fill: number } | null } } = {};
    for (let i = 0; i < 50 && !health.nats?.stream; i++) {
      health = (await (await fetch(`${httpUrl}/healthz`)).json()) as typeof health;
      if (!health.nats?.stream) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health.nats?.mode, 'jetstream');
    assert.equal(health.nats?.connected, true);
    assert.equal(typeof health.nats?.stream?.removed, 'number');
    assert.equal(await withHttp.stop('SIGTERM'), 0);
    assert.match(
      await started([...base, '--nats', js.url, '--nats-mode', 'core']),
      /peer-observer: NATS: core mode \(no JetStream stream\)/,
    );
    assert.match(await started([...base, '--nats', js.url], { PEER_OBSERVER_NATS_MODE: 'core' }), /NATS: core mode/);
    const config = join(root, 'mode.json');
    writeFileSync(config, JSON.stringify({ natsMode: 'core' }));
    assert.match(await started([...base, '--nats', js.url, '--config', config]), /NATS: core mode/);
    assert.match(await started([...base, '--nats', core.url]), /NATS: core mode/);
    const refused = await runCli([...base, '--nats', core.url, '--nats-mode', 'jetstream']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--nats-mode jetstream, but the server has no JetStream/);
    const bad = await runCli([...base, '--nats', core.url, '--nats-mode', 'fast']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--nats-mode.*expected one of auto, jetstream, core/);
    const archiveBad = await runCli(['archive', '--nats', core.url, '--data-dir', root, '--consumer-name', 'a b']);
    assert.equal(archiveBad.code, 2);
    assert.match(archiveBad.stderr, /--consumer-name "a b": expected/);
    const sinceCore = await runCli(['log', '--nats', core.url, '--nats-mode', 'core', '--since', '-1h']);
    assert.equal(sinceCore.code, 2);
    assert.match(sinceCore.stderr, /--since needs a JetStream stream/);
  });
});
