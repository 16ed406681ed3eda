/** `demo` mixes attack scenarios in after an honest warm-up; `--no-attacks` keeps it honest. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ofType, runCli } from './helpers.js';

const ipOf = (remote: unknown) => String(remote).slice(0, String(remote).lastIndexOf(':'));

describe('peer-observer demo: attacks', { timeout: 60_000 }, () => {
  it('after the warm-up the first attack (addr-flood-2021) runs from its own loopback range', async () => {
    const r = await runCli(['demo', '--duration', '7.5', '--peers', '1', '--json'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^peer-observer demo: attack: addr-flood-2021 \(.+\) for 8s$/m);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const flood = ofType(events, 'message').filter(
      (e) => e.data?.command === 'addr' && e.data?.dir === 'in' && (e.data?.payload as { count: number }).count === 1000,
    );
    assert.ok(flood.length >= 2, `flood messages: ${flood.length}`);
    assert.ok(flood.every((e) => ipOf((e.data?.conn as { remote: string }).remote).startsWith('127.21.0.')));
    // The honest peer is still there, from its usual address.
    const sources = new Set(ofType(events, 'connection.opened').map((e) => ipOf((e.data?.conn as { remote: string }).remote)));
    assert.ok(sources.has('127.0.0.10'));
  });

  it('--no-attacks: honest peers only', async () => {
    const r = await runCli(['demo', '--duration', '6', '--peers', '1', '--json', '--no-attacks'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /attack:/);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const sources = new Set(ofType(events, 'connection.opened').map((e) => ipOf((e.data?.conn as { remote: string }).remote)));
    assert.deepEqual([...sources], ['127.0.0.10']);
    assert.equal(ofType(events, 'violation').length, 0);
  });
});
