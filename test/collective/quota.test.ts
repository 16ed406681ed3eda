/**
 * SendQuota: our own sending at most `max` reports in any window (plus a
 * margin), as the hub's stream counts a member's reports.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendQuota } from '../../src/collective/quota.js';

describe('collective send quota', () => {
  it('max in any window: a burst, then one more each time the oldest leaves the window (+ margin)', () => {
    const q = new SendQuota(2000);
    let taken = 0;
    for (let t = 0; t < 10; t++) if (q.take(t, 5, 60_000)) taken++;
    assert.equal(taken, 5);
    assert.equal(q.take(61_999, 5, 60_000), false, 'the first (t = 0) is still within 60 s + 2 s');
    assert.equal(q.take(62_000, 5, 60_000), true);
    assert.equal(q.take(62_000, 5, 60_000), false, 'the one at t = 1 is still in');
    assert.equal(q.take(62_001, 5, 60_000), true);
    // Taken over a long time at a steady pace under the limit: never refused.
    const steady = new SendQuota(0);
    for (let t = 0; t < 600_000; t += 1000) assert.equal(steady.take(t, 60, 60_000), true, `at ${t}`);
    // ... and once over it, exactly max in the window.
    let burst = 0;
    for (let i = 0; i < 100; i++) if (steady.take(600_000, 60, 60_000)) burst++;
    assert.equal(burst, 1, 'the 59 of the last minute and this one');
  });

  it('a lower limit (trust file reload) counts at once', () => {
    const q = new SendQuota(0);
    for (let t = 0; t < 10; t++) assert.equal(q.take(t, 10, 60_000), true);
    assert.equal(q.take(20, 3, 60_000), false, '10 in the window, 3 allowed now');
    assert.equal(q.take(60_008, 3, 60_000), true, 'the newest 3 were at 7, 8, 9: 7 and 8 have left the window');
  });
});
