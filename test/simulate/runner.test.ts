/**
 * The simulator's loopback-only rule: a non-loopback target is refused before
 * any connection is attempted (a spy stands in for node:net's connect, so
 * nothing is ever dialled outside loopback), and is allowed only with the flag.
 */
import assert from 'node:assert/strict';
import { type NetConnectOpts, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { NETWORKS } from '../../src/protocol/networks.js';
import { checkTarget, isLoopbackHost, runSimulation, TargetRefusedError, TargetUnreachableError } from '../../src/simulate/runner.js';
import { SCENARIO_NAMES } from '../../src/simulate/scenarios/index.js';
import { sourceIn16, sourceIn24 } from '../../src/simulate/kit.js';

/** A connect that never connects: records the call and fails like a refused connection. */
function spyConnect() {
  const calls: NetConnectOpts[] = [];
  const connect = (options: NetConnectOpts): Socket => {
    calls.push(options);
    const s = new Socket();
    process.nextTick(() => s.emit('error', Object.assign(new Error('connect ECONNREFUSED (spy)'), { code: 'ECONNREFUSED' })));
    return s;
  };
  return { calls, connect };
}

describe('simulate: loopback only', () => {
  it('knows loopback', () => {
    for (const h of ['127.0.0.1', '127.54.98.7', '::1', 'localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['192.0.2.1', '10.0.0.1', '::', 'example.org', '2001:db8::1', '0.0.0.0']) assert.ok(!isLoopbackHost(h), h);
    assert.throws(() => checkTarget('192.0.2.1', false), TargetRefusedError);
    assert.doesNotThrow(() => checkTarget('192.0.2.1', true));
  });

  for (const scenario of SCENARIO_NAMES) {
    it(`${scenario}: a non-loopback target is refused before any connection attempt`, async () => {
      const spy = spyConnect();
      await assert.rejects(
        runSimulation({
          network: NETWORKS.regtest,
          target: { host: '192.0.2.1', port: 18444 },
          scenario,
          durationMs: 500,
          connect: spy.connect,
        }),
        (err: Error) => err instanceof TargetRefusedError && /192\.0\.2\.1 is not a loopback address/.test(err.message),
      );
      assert.equal(spy.calls.length, 0, 'no connection attempted');
    });
  }

  it('--allow-non-loopback lets it through (to a spy), from the default source address', async () => {
    const spy = spyConnect();
    await assert.rejects(
      runSimulation({
        network: NETWORKS.regtest,
        target: { host: '192.0.2.1', port: 18444 },
        scenario: 'linkinglion',
        allowNonLoopback: true,
        durationMs: 5000,
        connect: spy.connect,
      }),
      (err: Error) => err instanceof TargetUnreachableError && /cannot connect to 192\.0\.2\.1:18444/.test(err.message),
    );
    assert.ok(spy.calls.length >= 5);
    for (const c of spy.calls) {
      assert.equal((c as { host?: string }).host, '192.0.2.1');
      assert.equal((c as { localAddress?: string }).localAddress, undefined, '127.x sources cannot reach a real network');
    }
  });

  it('source address helpers stay inside their /24 and /16, never .0 or .255', () => {
    const a = Array.from({ length: 600 }, (_, i) => sourceIn24('127.54.98', i));
    assert.ok(a.every((ip) => /^127\.54\.98\.(\d+)$/.test(ip) && Number(ip.split('.')[3]) >= 1 && Number(ip.split('.')[3]) <= 254));
    const b = Array.from({ length: 2000 }, (_, i) => sourceIn16('127.77', i));
    assert.equal(new Set(b).size, 2000);
    assert.ok(b.every((ip) => ip.startsWith('127.77.') && !ip.endsWith('.0') && !ip.endsWith('.255')));
  });
});
