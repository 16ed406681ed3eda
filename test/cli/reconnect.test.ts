/**
 * Issue 12, finding 1, through the real bin: `run --connect` keeps redialling its
 * outbound peer with a growing backoff for as long as it runs (before the fix it
 * exited with code 13 about 2 s after the first failed dial, its event loop
 * empty), and a peer that restarts is reconnected.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { type Cli, listeningPort, ofType, startCli } from './helpers.js';

const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

function start(args: string[]): Cli {
  const cli = startCli(args);
  children.push(cli);
  return cli;
}

/** A loopback port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Closed = { timeUs: number; data: { reason: string; detail: string } };
const failures = (cli: Cli): Closed[] =>
  ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'connect-failed') as unknown as Closed[];

describe('run --connect keeps reconnecting', { timeout: 60_000 }, () => {
  it('a closed port: the process stays up and redials with a growing backoff, each attempt an event', async () => {
    const port = await closedPort();
    const cli = start(['run', '--network', 'regtest', '--connect', `127.0.0.1:${port}`, '--json', '--node-id', 'lonely']);
    // Default backoff: 1 s, 2 s, 4 s (+ up to 25 % jitter): the fourth failure comes 7-9 s after the first.
    await cli.until(() => failures(cli).length >= 4, 'four failed dials', 20_000);
    const failed = failures(cli);
    failed.forEach((e, i) => assert.match(e.data.detail, new RegExp(`refused.*attempt ${i + 1}, next in \\d+\\.\\d s`, 'i')));
    const gaps = failed.slice(1).map((e, i) => (e.timeUs - failed[i]!.timeUs) / 1000);
    for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! > gaps[i - 1]!, `gaps grow: ${gaps.join(', ')} ms`);
    assert.ok(gaps[0]! >= 900, `first redial after about a second, got ${gaps[0]} ms`);
    assert.equal(cli.child.exitCode, null, 'still running');
    assert.equal(await cli.stop(), 0);
  });

  it('a peer that restarts is reconnected (and the observer outlives its absence)', async () => {
    const a1 = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--node-id', 'A']);
    await a1.until(() => listeningPort(a1.stderr()) !== undefined, 'A listening');
    const port = listeningPort(a1.stderr())!;
    const b = start(['run', '--network', 'regtest', '--connect', `127.0.0.1:${port}`, '--json', '--node-id', 'B']);
    await b.until(() => ofType(b.events(), 'handshake.complete').length === 1, 'B handshakes with A');
    assert.equal(await a1.stop(), 0);
    await b.until(() => ofType(b.events(), 'connection.closed').some((e) => e.data?.reason === 'peer-closed'), 'B sees A go');
    // Before the fix B exited about 2.5 s after the close; two failed redials take about 3 s.
    await b.until(() => failures(b).length >= 2, 'B redials A while it is down', 10_000);
    const a2 = start(['run', '--network', 'regtest', '--listen', `127.0.0.1:${port}`, '--json', '--node-id', 'A']);
    await a2.until(() => listeningPort(a2.stderr()) === port, 'A back on its port');
    await b.until(() => ofType(b.events(), 'handshake.complete').length === 2, 'B reconnected to the restarted A', 15_000);
    await a2.until(() => ofType(a2.events(), 'handshake.complete').length === 1, 'A sees B again');
    assert.equal(b.child.exitCode, null);
    assert.equal(await b.stop(), 0);
    assert.equal(await a2.stop(), 0);
  });
});
