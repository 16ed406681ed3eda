/**
 * The real Bitcoin Core recordings through every detector: honest traffic
 * raises nothing; the recorded addr flood raises the addr-flood alert.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness, recordingEvents } from './helpers.js';

describe('detectors on the Bitcoin Core recordings', () => {
  it('v1/conn0 (block download, tx relay, compact blocks, pings): no alert', () => {
    const events = recordingEvents('v1/conn0');
    assert.ok(events.length > 200, `decoded ${events.length} events`);
    const h = harness();
    h.feed(events);
    h.engine.tick(events.at(-1)!.timeUs + 1_000_000);
    assert.deepEqual(h.manager.store.alerts(), []);
  });

  it('v1-attacks/honest: no alert', () => {
    const events = recordingEvents('v1-attacks/honest');
    const h = harness();
    h.feed(events);
    h.engine.tick(events.at(-1)!.timeUs + 1_000_000);
    assert.deepEqual(h.manager.store.alerts(), []);
  });

  it('v1-attacks/addrflood: the addr-flood alert, critical, naming the peer', () => {
    const events = recordingEvents('v1-attacks/addrflood');
    const h = harness();
    h.feed(events);
    const alerts = h.manager.store.alerts();
    const flood = alerts.find((a) => a.detector === 'addr-flood');
    assert.ok(flood, `alerts: ${alerts.map((a) => a.detector).join(', ')}`);
    assert.equal(flood.severity, 'critical');
    assert.deepEqual(flood.subject, { kind: 'peer', id: '127.0.0.1:50412' });
    // Core logged "1 processed, 999 rate-limited" for the first message: the bucket replays that.
    assert.ok(flood.evidence.counts['rateLimited']! >= 4999 - 5, `rateLimited ${flood.evidence.counts['rateLimited']}`);
    assert.equal(flood.evidence.counts['addrEntries'], 5000);
    assert.ok(flood.evidence.samples.length >= 1 && flood.evidence.samples.length <= 10);
    assert.ok(h.published.some((e) => e.type === 'alert'));
    assert.ok(h.published.some((e) => e.type === 'incident'));
  });
});
