import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { banSubnet, CollectiveList, formatList } from '../../src/collective/list.js';
import type { Alert } from '../../src/events/types.js';

function alert(o: Partial<Alert>): Alert {
  return {
    id: 'x',
    detector: 'collective',
    severity: 'warning',
    subject: { kind: 'netgroup', id: '93.184.0.0/16' },
    summary: '',
    firstSeenUs: 1_765_000_000_000_000,
    lastSeenUs: 1_765_000_060_000_000,
    status: 'active',
    nodeIds: ['alice'],
    count: 1,
    evidence: { counts: {}, samples: [{ attackers: [{ kind: 'address', id: '93.184.216.34' }], netgroups: [] }] },
    incidentId: '',
    ...o,
  };
}

describe('collective list', () => {
  it('members per netgroup/ASN from reports and collective incidents; k filters; repeats count once', () => {
    const l = new CollectiveList();
    l.add(alert({}));
    l.add(alert({ lastSeenUs: 1_765_000_120_000_000 })); // alice again: later last seen, same member
    l.add(
      alert({
        nodeIds: ['bob'],
        evidence: { counts: {}, samples: [{ attackers: [{ kind: 'asn', id: 'AS64500' }], netgroups: ['93.184.0.0/16'] }] },
      }),
    );
    l.add(
      alert({
        detector: 'collective-incident',
        subject: { kind: 'asn', id: 'AS64500' },
        nodeIds: ['bob', 'carol'],
        evidence: {
          counts: { members: 2 },
          samples: [
            { member: 'carol', atMs: 1_765_000_030_000 },
            { member: 'bob', atMs: 1_765_000_031_000 },
          ],
        },
      }),
    );
    l.add(alert({ nodeIds: ['Not A Member!'] }));
    l.add(alert({ evidence: { counts: {}, samples: ['junk'] } }));
    l.add(alert({ detector: 'addr-flood' })); // not the collective's: ignored
    assert.equal(l.malformed, 2);
    const two = l.list(2);
    assert.deepEqual(
      two.map((e) => [e.kind, e.id, e.reporters.map((r) => r.member)]),
      [
        ['netgroup', '93.184.0.0/16', ['alice', 'bob']],
        ['asn', 'AS64500', ['bob', 'carol']],
      ],
    );
    assert.equal(two[0]!.reporters[0]!.lastSeenUs, 1_765_000_120_000_000);
    assert.deepEqual(l.list(3), []);
    const ban = formatList(two, 'bitcoin-cli', { banSeconds: 600 });
    assert.equal(ban.text, 'setban 93.184.0.0/16 add 600\n');
    assert.equal(ban.skipped, 1);
    const csv = formatList(two, 'csv', { banSeconds: 1 }).text.split('\n');
    assert.equal(
      csv[1],
      'netgroup,93.184.0.0/16,2,alice@2025-12-06T05:46:40.000Z..2025-12-06T05:48:40.000Z;bob@2025-12-06T05:46:40.000Z..2025-12-06T05:47:40.000Z,2025-12-06T05:46:40.000Z,2025-12-06T05:48:40.000Z',
    );
  });

  it('setban takes IP subnets only', () => {
    assert.equal(banSubnet('1.2.0.0/16'), '1.2.0.0/16');
    assert.equal(banSubnet('2001:db8::/32'), '2001:db8::/32');
    for (const bad of ['AS64500', 'onion', '1.2.0.0', '300.1.0.0/16', '1.2.0.0/33', '1.2.0.0/16; rm -rf /', 'i2p/abc'])
      assert.equal(banSubnet(bad), undefined, bad);
  });
});
