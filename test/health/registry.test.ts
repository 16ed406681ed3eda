/** The health registry behind /healthz: states, one-off failures and drop counters, on a test clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthRegistry } from '../../src/health/registry.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('HealthRegistry', () => {
  it('a state lasts until recovered; its start time is kept when the reason changes', () => {
    const c = clock();
    const h = new HealthRegistry({ now: c.now, windowMs: 60_000 });
    assert.deepEqual(h.check(), { status: 'ok', reasons: [] });
    h.failing('archive', 'disk full');
    c.advance(5000);
    h.failing('archive', 'disk still full');
    const r = h.check();
    assert.equal(r.status, 'degraded');
    assert.deepEqual(r.reasons, [{ component: 'archive', reason: 'disk still full', since: new Date(c.now() - 5000).toISOString() }]);
    c.advance(10 * 60_000);
    assert.equal(h.check().status, 'degraded', 'a state does not expire');
    h.recovered('archive');
    assert.equal(h.check().status, 'ok');
    h.close();
  });

  it('a probe is asked on every check: degraded with its reasons while it says not ok, since its first failure', () => {
    const c = clock();
    const h = new HealthRegistry({ now: c.now });
    let status = { ok: true, reasons: [] as string[] };
    h.probe('archive', () => status);
    assert.equal(h.check().status, 'ok');
    status = { ok: false, reasons: ['archive disk full', 'writes failing'] };
    c.advance(1000);
    h.check(); // the first check that sees it failing: its start
    c.advance(1000);
    assert.deepEqual(h.check().reasons, [
      { component: 'archive', reason: 'archive disk full', since: new Date(c.now() - 1000).toISOString() },
      { component: 'archive', reason: 'writes failing', since: new Date(c.now() - 1000).toISOString() },
    ]);
    status = { ok: true, reasons: [] };
    assert.equal(h.check().status, 'ok');
    h.probe('broken', () => {
      throw new Error('boom');
    });
    assert.deepEqual(
      h.check().reasons.map((r) => r.reason),
      ['health probe failed: boom'],
    );
    h.close();
  });

  it('a one-off failure degrades for the window after the last one, counting repeats', () => {
    const c = clock();
    const h = new HealthRegistry({ now: c.now, windowMs: 60_000 });
    h.failed('archive', 'a batch of 10 events was not written: SQLITE_FULL');
    c.advance(30_000);
    h.failed('archive', 'a batch of 12 events was not written: SQLITE_FULL');
    assert.match(h.check().reasons[0]!.reason, /12 events .* \(2 times since\)$/);
    c.advance(59_000);
    assert.equal(h.check().status, 'degraded');
    c.advance(2000);
    assert.deepEqual(h.check(), { status: 'ok', reasons: [] });
    h.close();
  });

  it('a drop counter degrades while it rises, and recovers a window after it stops', () => {
    const c = clock();
    const h = new HealthRegistry({ now: c.now, windowMs: 60_000 });
    let dropped = 0;
    h.watchDrops('bus', () => dropped);
    assert.equal(h.check().status, 'ok', 'no drops, no reason');
    dropped = 40;
    const r = h.check();
    assert.equal(r.status, 'degraded');
    assert.equal(r.reasons[0]!.reason, '40 events dropped (40 in all), the last within 60 s');
    c.advance(50_000);
    dropped = 45;
    assert.equal(h.check().reasons[0]!.reason, '45 events dropped (45 in all), the last within 60 s');
    c.advance(61_000);
    assert.equal(h.check().status, 'ok');
    // A new spell counts from where the last one ended.
    dropped = 50;
    assert.equal(h.check().reasons[0]!.reason, '5 events dropped (50 in all), the last within 60 s');
    h.close();
  });

  it('drops before the watch began count; a counter that throws is skipped, not fatal', () => {
    const c = clock();
    const h = new HealthRegistry({ now: c.now });
    h.watchDrops('nats', () => 7, 'events not sent');
    let fail = false;
    h.watchDrops('other', () => {
      if (fail) throw new Error('gone');
      return 0;
    });
    fail = true;
    const r = h.check();
    assert.deepEqual(
      r.reasons.map((x) => [x.component, x.reason]),
      [['nats', '7 events not sent (7 in all), the last within 60 s']],
    );
    h.close();
  });
});
