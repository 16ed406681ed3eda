/** `peer-observer demo`, through the real bin and through npx: every flag changes what it does. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Cli, ofType, runCli, startCli } from './helpers.js';

const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

describe('peer-observer demo', { timeout: 60_000 }, () => {
  it('--duration --peers --json: simulated peers from distinct loopback addresses, then a clean exit', async () => {
    const t0 = Date.now();
    const r = await runCli(['demo', '--duration', '2', '--peers', '2', '--json'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(r.stderr, /^peer-observer demo: regtest observer on 127\.0\.0\.1:\d+, 2 simulated honest peer\(s\); stopping after 2s\n$/);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.every((e) => e.nodeId === 'demo' && e.v === 1));
    const opened = ofType(events, 'connection.opened');
    const sources = new Set(opened.map((e) => String((e.data?.conn as { remote: string }).remote).split(':')[0]));
    assert.deepEqual([...sources].sort(), ['127.0.0.10', '127.0.0.11']);
    assert.ok(opened.every((e) => e.data?.network === 'regtest'));
    assert.equal(ofType(events, 'handshake.complete').length, 2);
    assert.equal(ofType(events, 'violation').length, 0, 'honest peers cause no violations');
    const messages = ofType(events, 'message');
    assert.ok(messages.some((e) => e.data?.dir === 'in') && messages.some((e) => e.data?.dir === 'out'));
    // Both peers closed cleanly at the end, and the counters say nothing was dropped.
    const closed = ofType(events, 'connection.closed');
    assert.equal(closed.length, 2);
    const bus = ofType(events, 'pipeline.counters').find((e) => e.data?.stage === 'bus');
    assert.equal((bus?.data?.counters as Record<string, number>).dropped, 0);
  });

  it('--network signet, text mode by default', async () => {
    const r = await runCli(['demo', '--network', 'signet', '--duration', '1', '--peers', '1'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# CONN \S+ demo conn=1 127\.0\.0\.10:\d+ opened inbound .* network=signet/m);
    assert.match(r.stdout, /^<-- \S+ demo conn=1 127\.0\.0\.10:\d+ version /m);
    assert.match(r.stdout, /^--> \S+ demo conn=1 127\.0\.0\.10:\d+ verack 0B$/m);
    assert.match(r.stdout, /^# CONN .* closed inbound .* reason=peer-closed/m);
  });

  it('runs until Ctrl-C without --duration, shows traffic within seconds', async () => {
    const cli = startCli(['demo']);
    children.push(cli);
    await cli.until(() => (cli.stdout().match(/^# HANDSHAKE /gm) ?? []).length >= 3, 'three handshakes (default --peers 3)', 8000);
    assert.match(cli.stderr(), /3 simulated honest peer\(s\); Ctrl-C to stop/);
    assert.equal(await cli.stop('SIGINT'), 0);
    assert.match(cli.stdout(), /^# COUNTERS .* stage=bus /m);
  });

  it('the bin works from any directory, and through npx in the package', async () => {
    const r = await runCli(['--version'], { cwd: tmpdir() });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), '0.1.0');
    const npx = spawnSync('npx', ['--no-install', 'peer-observer', 'demo', '--help'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 120_000, // generous: the packed-install test may be building better-sqlite3 beside it
    });
    assert.equal(npx.status, 0, npx.stderr);
    assert.match(npx.stdout, /--duration <seconds>/);
  });
});
