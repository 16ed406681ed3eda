/**
 * The alert manager: dedupe while active, resolve after the quiet period,
 * incidents grouping related alerts, cross-observer correlation, rate-limited
 * updates, listeners and counters; and bounded state under 100,000 peers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import type { Signal } from '../../src/consumers/detectors/types.js';
import { parseEvent } from '../../src/events/schema.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { addrPayload, closed, conn, harness, message, opened, publicIp, T0, version } from './helpers.js';

const S = 1_000_000;

function signal(o: Partial<Signal> = {}): Signal {
  return {
    detector: 'ping-spam',
    subject: { kind: 'peer', id: '45.83.2.1:40000' },
    severity: 'warning',
    summary: 'ping spam',
    counts: { pings: 1 },
    sample: { n: 1 },
    nodeId: 'obs-1',
    timeUs: T0,
    netgroup: '45.83.0.0/16',
    sourceIp: '45.83.2.1',
    ...o,
  };
}

function manager(options = {}) {
  const published: ObserverEvent[] = [];
  const m = new AlertManager({ nodeId: 'obs-1', source: 'detectors' }, (e) => published.push(e), {
    quietMs: 60_000,
    updateIntervalMs: 5000,
    ...options,
  });
  return { m, published };
}

describe('AlertManager', () => {
  it('dedupes by (detector, subject), merges evidence, rate-limits update events, resolves after the quiet period', () => {
    const { m, published } = manager();
    const changes: string[] = [];
    m.onAlert((_a, change) => changes.push(change));
    for (let i = 0; i < 20; i++) m.ingest(signal({ timeUs: T0 + i * 500_000, counts: { pings: i + 1 }, sample: { n: i } }));
    const alerts = m.store.alerts();
    assert.equal(alerts.length, 1);
    const a = alerts[0]!;
    assert.equal(a.count, 20);
    assert.equal(a.evidence.counts['pings'], 20);
    assert.equal(a.evidence.samples.length, 10, 'samples bounded');
    assert.equal(a.lastSeenUs, T0 + 19 * 500_000);
    // raised + one update after 5 s (the rest suppressed)
    const alertEvents = published.filter((e) => e.type === 'alert');
    assert.equal(alertEvents.length, 2);
    for (const e of published) parseEvent(JSON.parse(JSON.stringify(e)));
    m.tick(T0 + 30 * S);
    assert.equal(m.store.alert(a.id)!.status, 'active');
    m.tick(T0 + 10 * S + 60 * S);
    const resolved = m.store.alert(a.id)!;
    assert.equal(resolved.status, 'resolved');
    assert.ok(resolved.resolvedUs);
    assert.equal(m.store.incident(a.incidentId)!.status, 'resolved');
    assert.deepEqual(
      changes.filter((c) => c !== 'updated'),
      ['raised', 'resolved'],
    );
    // A new signal afterwards is a new alert.
    m.ingest(signal({ timeUs: T0 + 200 * S }));
    assert.equal(m.store.alerts({ status: 'active' }).length, 1);
    assert.notEqual(m.store.alerts({ status: 'active' })[0]!.id, a.id);
    const c = m.counters();
    assert.deepEqual(c.raised['ping-spam'], { warning: 2 });
    assert.equal(c.resolved['ping-spam'], 1);
    assert.equal(c.signals['ping-spam'], 21);
  });

  it('severity only goes up, and the incident follows', () => {
    const { m } = manager();
    m.ingest(signal({ severity: 'info' }));
    m.ingest(signal({ severity: 'critical', timeUs: T0 + S }));
    m.ingest(signal({ severity: 'warning', timeUs: T0 + 2 * S }));
    const [a] = m.store.alerts();
    assert.equal(a!.severity, 'critical');
    assert.equal(m.store.incident(a!.incidentId)!.severity, 'critical');
    assert.equal(m.counters().escalated['ping-spam'], 1);
  });

  it('groups alerts on the same source or netgroup into one incident; unrelated ones apart', () => {
    const { m } = manager();
    m.ingest(signal());
    m.ingest(signal({ detector: 'addr-flood', severity: 'critical', timeUs: T0 + S }));
    m.ingest(
      signal({ detector: 'malformed-burst', subject: { kind: 'netgroup', id: '45.83.0.0/16' }, sourceIp: undefined, timeUs: T0 + 2 * S }),
    );
    m.ingest(signal({ subject: { kind: 'peer', id: '81.2.3.4:8333' }, netgroup: '81.2.0.0/16', sourceIp: '81.2.3.4', timeUs: T0 + 3 * S }));
    const incidents = m.store.incidents();
    assert.equal(incidents.length, 2);
    const big = incidents.find((i) => i.alertIds.length === 3)!;
    assert.equal(big.severity, 'critical');
    assert.deepEqual(big.detectors.sort(), ['addr-flood', 'malformed-burst', 'ping-spam']);
    assert.deepEqual(big.netgroups, ['45.83.0.0/16']);
  });

  it('cross-observer correlation: one source alerted by two observers raises a correlation alert, one severity up', () => {
    const { m } = manager();
    m.ingest(signal({ nodeId: 'fra-1' }));
    assert.equal(m.store.alerts({ detector: 'correlation' }).length, 0);
    m.ingest(signal({ nodeId: 'nyc-1', timeUs: T0 + S }));
    const [c] = m.store.alerts({ detector: 'correlation' });
    assert.ok(c);
    assert.equal(c.severity, 'critical');
    assert.deepEqual(c.subject, { kind: 'peer', id: '45.83.2.1' });
    assert.deepEqual(c.nodeIds.sort(), ['fra-1', 'nyc-1']);
    const [orig] = m.store.alerts({ detector: 'ping-spam' });
    assert.equal(c.incidentId, orig!.incidentId);
    assert.deepEqual(m.store.incident(c.incidentId)!.nodeIds.sort(), ['fra-1', 'nyc-1']);
  });

  it('the store is bounded: resolved alerts are evicted first and counted', () => {
    const { m } = manager({ maxAlerts: 100, maxIncidents: 50 });
    for (let i = 0; i < 300; i++)
      m.ingest(
        signal({ subject: { kind: 'peer', id: `p${i}` }, sourceIp: `10.${i >> 8}.${i & 255}.1`, netgroup: `n${i}`, timeUs: T0 + i * S }),
      );
    assert.equal(m.store.alerts().length, 100);
    assert.ok(m.store.incidents().length <= 50);
    assert.equal(m.counters().storeEvicted, 200 + (300 - 50));
  });
});

describe('bounded detector state', () => {
  it('100,000 distinct peers: every per-peer map stays within its bound, evictions counted, no alert', () => {
    const h = harness({
      'addr-flood': { maxPeers: 10_000 },
      'ping-spam': { maxPeers: 10_000 },
      'inv-spam': { maxPeers: 10_000 },
      spy: { maxGroups: 5_000 },
    });
    const t0 = T0;
    for (let i = 0; i < 100_000; i++) {
      const c = conn(`${publicIp(i)}:${1024 + (i % 60000)}`);
      const t = t0 + i * 20_000;
      h.engine.process(opened(c, t));
      h.engine.process(version(c, t + 1000));
      h.engine.process(message(c, 'in', 'addr', addrPayload([publicIp(i + 7)], Math.floor(t / S)), t + 2000));
      h.engine.process(message(c, 'in', 'ping', { nonce: String(i * 7 + 1) }, t + 3000));
      h.engine.process(message(c, 'in', 'inv', { count: 2, types: { wtx: 2 }, items: [] }, t + 4000));
      // Half the peers never close: only the bounds keep state in check.
      if (i % 2 === 0) h.engine.process(closed(c, t + 5000, 4, true));
      if (i % 1000 === 0) h.engine.tick(t);
    }
    for (const d of h.engine.detectors) {
      const s = d.stats();
      assert.ok(s.tracked <= 100_000, `${d.name} tracks ${s.tracked}`);
    }
    const byName = Object.fromEntries(h.engine.detectors.map((d) => [d.name, d.stats()]));
    assert.ok(byName['addr-flood']!.tracked <= 10_000);
    assert.ok(byName['addr-flood']!.evicted > 0);
    assert.ok(byName['ping-spam']!.tracked <= 10_000);
    assert.ok(byName['spy']!.tracked <= 5_000);
    h.engine.tick(t0 + 100_000 * 20_000 + S);
    const alerts = h.manager.store.alerts();
    // 100,000 peers spread over the whole IPv4 space: concentration alerts would be wrong.
    assert.deepEqual(
      alerts.map((a) => `${a.detector} ${a.summary}`),
      [],
    );
    assert.ok(h.manager.counters().stateEvicted['addr-flood']! > 0);
  });
});
