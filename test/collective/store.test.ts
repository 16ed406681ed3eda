import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentAlerts, withCollectiveAlerts } from '../../src/collective/store.js';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import type { Alert } from '../../src/events/types.js';

const alert = (id: string, lastSeenUs: number, o: Partial<Alert> = {}): Alert => ({
  id,
  detector: 'collective',
  severity: 'warning',
  subject: { kind: 'netgroup', id: '93.184.0.0/16' },
  summary: '',
  firstSeenUs: 0,
  lastSeenUs,
  status: 'active',
  nodeIds: ['bob'],
  count: 1,
  evidence: { counts: {}, samples: [] },
  incidentId: '',
  ...o,
});

describe('collective alerts in the alert store', () => {
  it('keeps the latest max by id; an update replaces its older state', () => {
    const r = new RecentAlerts(3);
    for (let i = 0; i < 5; i++) r.add(alert(`a${i}`, i));
    r.add(alert('a2', 10, { count: 2 }));
    assert.equal(r.size, 3);
    assert.equal(r.get('a0'), undefined);
    assert.equal(r.get('a2')!.count, 2);
    assert.deepEqual(r.list({ minSeverity: 'critical' }), []);
  });

  it('merged with the manager’s: newest first, the limit over both, lookups by id in both', () => {
    const manager = new AlertManager({ nodeId: 'obs', source: 'detectors' }, () => {});
    const t = 1_765_000_000_000_000;
    manager.ingest({
      detector: 'addr-flood',
      subject: { kind: 'peer', id: '1.2.3.4:8333' },
      severity: 'warning',
      summary: 's',
      counts: {},
      nodeId: 'obs',
      timeUs: t + 5,
    });
    const r = new RecentAlerts();
    r.add(alert('c-old', t));
    r.add(alert('c-new', t + 10, { detector: 'collective-incident', nodeIds: ['bob', 'carol'] }));
    const store = withCollectiveAlerts(manager.store, r);
    assert.deepEqual(
      store.alerts().map((a) => a.detector),
      ['collective-incident', 'addr-flood', 'collective'],
    );
    assert.deepEqual(
      store.alerts({ limit: 2 }).map((a) => a.detector),
      ['collective-incident', 'addr-flood'],
    );
    assert.deepEqual(
      store.alerts({ nodeId: 'carol' }).map((a) => a.id),
      ['c-new'],
    );
    assert.equal(store.alert('c-old')!.detector, 'collective');
    assert.equal(store.alerts({ detector: 'addr-flood' }).length, 1);
  });
});
