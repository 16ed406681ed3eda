/**
 * What a shared report may carry: for any incident report, none of the
 * observer's own node ids, addresses, ports or host names, wherever they sit
 * in the incident (title, summaries, samples, node subjects, observers), and
 * attacker ports never; the attacker side in the clear or as netgroups.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../src/collective/canonical.js';
import { SharedReportSchema, toSharedReport } from '../../src/collective/report.js';
import { buildReport } from '../../src/consumers/alerts/report.js';
import type { Alert, Incident } from '../../src/events/types.js';

const own = fc.record({
  nodeId: fc.stringMatching(/^obs-[a-z]{6,10}$/),
  ip: fc.tuple(fc.integer({ min: 192, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.')),
  port: fc.integer({ min: 20_000, max: 65_535 }),
  host: fc.stringMatching(/^host-[a-z]{6,10}\.example$/),
});
const attacker = fc
  .tuple(
    fc.integer({ min: 11, max: 99 }),
    fc.nat(255),
    fc.nat(255),
    fc.integer({ min: 1, max: 254 }),
    fc.integer({ min: 1024, max: 19_999 }),
  )
  .map(([a, b, c, d, port]) => ({ ip: `${a}.${b}.${c}.${d}`, port }));

function incidentOf(o: { nodeId: string; ip: string; port: number; host: string }, attackers: { ip: string; port: number }[]) {
  const mine = `${o.ip}:${o.port}`;
  const alerts: Alert[] = attackers.map((a, i) => ({
    id: `al-${i}`,
    detector: i % 2 ? 'ping-spam' : 'addr-flood',
    severity: 'warning',
    subject: i === 0 ? { kind: 'node', id: o.nodeId } : { kind: 'peer', id: `${a.ip}:${a.port}` },
    summary: `${o.nodeId} at ${mine} on ${o.host} saw ${a.ip}:${a.port}`,
    firstSeenUs: 1_765_000_000_000_000 + i,
    lastSeenUs: 1_765_000_000_000_000 + i + 10,
    status: 'active',
    nodeIds: [o.nodeId],
    count: 1,
    evidence: {
      // A count named after our port (data in a name): dropped. Values are numbers of events, not identities.
      counts: { [`port${o.port}`]: 7, entries: 1000 },
      samples: [{ local: mine, remote: `${a.ip}:${a.port}`, node: o.nodeId, host: o.host, [o.nodeId]: o.host }],
    },
    incidentId: 'in-1',
  }));
  const incident: Incident = {
    id: 'in-1',
    title: `attack on ${o.nodeId} (${mine}, ${o.host})`,
    severity: 'warning',
    status: 'active',
    firstSeenUs: 1_765_000_000_000_000,
    lastSeenUs: 1_765_000_000_001_000,
    alertIds: alerts.map((a) => a.id),
    subjects: alerts.map((a) => a.subject),
    netgroups: attackers.map((a) => `${a.ip.split('.').slice(0, 2).join('.')}.0.0/16`),
    detectors: [...new Set(alerts.map((a) => a.detector))],
    nodeIds: [o.nodeId, `${o.host}`],
  };
  return buildReport(incident, alerts);
}

describe('toSharedReport', () => {
  it('never carries our node ids, addresses, ports or host names, whatever the incident says', () => {
    fc.assert(
      fc.property(
        own,
        fc.array(attacker, { minLength: 2, maxLength: 8 }),
        fc.constantFrom('clear' as const, 'netgroup' as const),
        (o, attackers, policy) => {
          const shared = toSharedReport(incidentOf(o, attackers), { attackers: policy });
          SharedReportSchema.parse(shared);
          const bytes = canonicalJson(shared);
          assert.ok(
            shared.attackers.every((x) => !/:\d+$/.test(x.id)),
            'attacker ids carry no port',
          );
          // As a token (not inside a longer number or the hex digest, where its digits may occur by chance).
          for (const secret of [o.nodeId, o.ip, String(o.port), o.host])
            assert.ok(!new RegExp(`(?<![0-9A-Za-z.])${secret.replace(/\./g, '\\.')}(?![0-9A-Za-z])`).test(bytes), `${secret} in ${bytes}`);
          for (const a of attackers.slice(1)) {
            assert.ok(!bytes.includes(`${a.ip}:${a.port}`), 'no attacker ports');
            assert.equal(bytes.includes(`"${a.ip}"`), policy === 'clear', `${a.ip} under ${policy}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps the facts: detectors, severity, window, counts, netgroups; the evidence as a digest that changes with it', () => {
    const o = { nodeId: 'obs-abcdef', ip: '198.51.100.7', port: 48_333, host: 'host-abcdef.example' };
    const r = incidentOf(o, [
      { ip: '11.0.1.2', port: 4000 },
      { ip: '11.0.1.3', port: 4001 },
    ]);
    const shared = toSharedReport(r, { attackers: 'netgroup' });
    assert.deepEqual(shared.detectors, ['addr-flood', 'ping-spam']);
    assert.equal(shared.severity, 'warning');
    assert.deepEqual([shared.firstSeenUs, shared.lastSeenUs], [1_765_000_000_000_000, 1_765_000_000_001_000]);
    assert.equal(shared.counts['ping-spam.entries'], 1000);
    assert.ok(!Object.keys(shared.counts).some((k) => k.includes('48333')), 'a count named after our port is dropped');
    assert.deepEqual(shared.attackers, [{ kind: 'netgroup', id: '11.0.0.0/16' }]);
    assert.deepEqual(shared.netgroups, ['11.0.0.0/16']);
    const changed = structuredClone(r);
    changed.alerts[1]!.evidence.counts.entries = 999;
    assert.notEqual(toSharedReport(changed, { attackers: 'netgroup' }).evidenceDigest, shared.evidenceDigest);
  });
});
