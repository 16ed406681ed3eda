import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Correlator, keysOf } from '../../src/collective/correlator.js';
import type { SharedReport } from '../../src/collective/report.js';

function report(o: Partial<SharedReport> = {}): SharedReport {
  return {
    kind: 'incident',
    detectors: ['addr-flood'],
    severity: 'warning',
    firstSeenUs: 1,
    lastSeenUs: 2,
    counts: {},
    attackers: [{ kind: 'address', id: '203.0.113.7' }],
    netgroups: [],
    evidenceDigest: 'a'.repeat(64),
    ...o,
  };
}

describe('collective correlator', () => {
  it('keys: netgroups and ASNs of a report, address attackers by their netgroup, each once', () => {
    const keys = keysOf(
      report({
        attackers: [
          { kind: 'address', id: '203.0.113.7' },
          { kind: 'netgroup', id: '203.0.0.0/16' },
          { kind: 'asn', id: 'AS64500' },
        ],
        netgroups: ['203.0.0.0/16', '198.51.0.0/16'],
      }),
    );
    assert.deepEqual(
      keys.map((k) => `${k.kind}/${k.id}`),
      ['netgroup/203.0.0.0/16', 'asn/AS64500', 'netgroup/198.51.0.0/16'],
    );
  });

  it('k distinct members within the window make one incident, with each member evidence digest', () => {
    const c = new Correlator({ minMembers: 2, windowMs: 60_000 });
    assert.deepEqual(c.add('alice', report({ evidenceDigest: '1'.repeat(64) }), 1000), []);
    // The same member again is not a second member.
    assert.deepEqual(c.add('alice', report({ evidenceDigest: '2'.repeat(64) }), 2000), []);
    const [inc, ...rest] = c.add('bob', report({ evidenceDigest: '3'.repeat(64), severity: 'critical' }), 3000);
    assert.equal(rest.length, 0);
    assert.deepEqual(inc!.key, { kind: 'netgroup', id: '203.0.0.0/16' });
    assert.equal(inc!.severity, 'critical');
    assert.deepEqual(
      inc!.members.map((m) => [m.member, m.atMs, m.evidenceDigest]),
      [
        ['alice', 2000, '2'.repeat(64)],
        ['bob', 3000, '3'.repeat(64)],
      ],
    );
    // A third member grows the same incident; a repeat from a counted member does not return it again.
    const [grown] = c.add('carol', report(), 4000);
    assert.equal(grown!.id, inc!.id);
    assert.equal(grown!.members.length, 3);
    assert.deepEqual(c.add('bob', report(), 5000), []);
    assert.equal(c.counters().incidents, 1);
  });

  it('reports further apart than the window do not correlate; different netgroups do not', () => {
    const c = new Correlator({ minMembers: 2, windowMs: 10_000 });
    c.add('alice', report(), 0);
    assert.deepEqual(c.add('bob', report(), 10_001), []);
    assert.deepEqual(c.add('carol', report({ attackers: [{ kind: 'address', id: '198.51.100.1' }] }), 10_002), []);
    // bob (10_001) and dave (15_000) are within the window: a new incident.
    assert.equal(c.add('dave', report(), 15_000).length, 1);
  });

  it('k = 1: our own report alone is an incident; ASN keys correlate like netgroups', () => {
    const c = new Correlator({ minMembers: 1, windowMs: 1000 });
    const out = c.add('alice', report({ attackers: [{ kind: 'asn', id: 'AS64500' }] }), 0);
    assert.deepEqual(
      out.map((i) => i.key),
      [{ kind: 'asn', id: 'AS64500' }],
    );
  });

  it('bounded: past maxKeys the least recently reported key goes, counted', () => {
    const c = new Correlator({ minMembers: 2, windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 250; i++) c.add('alice', report({ attackers: [{ kind: 'netgroup', id: `10.${i}` }] }), i);
    assert.equal(c.counters().keys, 100);
    assert.equal(c.counters().evicted, 150);
    // The oldest keys are gone: bob on 10.0 opens nothing; on 10.249 it does.
    assert.deepEqual(c.add('bob', report({ attackers: [{ kind: 'netgroup', id: '10.0' }] }), 300), []);
    assert.equal(c.add('bob', report({ attackers: [{ kind: 'netgroup', id: '10.249' }] }), 301).length, 1);
    c.prune(1_000_000);
    assert.equal(c.counters().keys, 0);
  });

  it('refuses k < 1 and a window of 0', () => {
    assert.throws(() => new Correlator({ minMembers: 0, windowMs: 1 }), /minMembers/);
    assert.throws(() => new Correlator({ minMembers: 2, windowMs: 0 }), /windowMs/);
  });
});
