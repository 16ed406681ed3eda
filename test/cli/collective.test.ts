/**
 * `peer-observer collective keygen | sign | verify` through the real bin: keys
 * made and never overwritten, an incident report turned into a signed shared
 * report that carries nothing of the observer that saw it (scanned on the
 * bytes), and verification with replay refusal across runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildReport } from '../../src/consumers/alerts/report.js';
import type { Alert, Incident } from '../../src/events/types.js';
import { runCli } from './helpers.js';
import { containsToken } from '../helpers/tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-collective-cli-'));

// Our own observer: what must never leave.
const OWN_NODE_ID = 'fra-observer-1';
const OWN_ADDRESS = '198.51.100.7';
const OWN_PORT = '48333';
const OWN_HOST = hostname();
const OWN = [OWN_NODE_ID, OWN_ADDRESS, OWN_PORT, OWN_HOST, '127.0.0.1', '18444'];

const alerts: Alert[] = [
  {
    id: 'al-1',
    detector: 'addr-flood',
    severity: 'critical',
    subject: { kind: 'peer', id: '11.0.1.2:40123' },
    summary: `addr flood seen by ${OWN_NODE_ID} on ${OWN_ADDRESS}:${OWN_PORT} (${OWN_HOST})`,
    firstSeenUs: 1_765_000_000_000_000,
    lastSeenUs: 1_765_000_060_000_000,
    status: 'active',
    nodeIds: [OWN_NODE_ID],
    count: 3,
    evidence: {
      counts: { addrEntries: 250_000, rateLimited: 249_000 },
      samples: [
        { local: `${OWN_ADDRESS}:${OWN_PORT}`, remote: '11.0.1.2:40123', nodeId: OWN_NODE_ID, host: OWN_HOST, also: '127.0.0.1:18444' },
      ],
    },
    incidentId: 'in-1',
  },
  {
    id: 'al-2',
    detector: 'inbound-flood',
    severity: 'warning',
    subject: { kind: 'node', id: OWN_NODE_ID },
    summary: `inbound slots of ${OWN_NODE_ID} full`,
    firstSeenUs: 1_765_000_010_000_000,
    lastSeenUs: 1_765_000_050_000_000,
    status: 'active',
    nodeIds: [OWN_NODE_ID],
    count: 1,
    evidence: { counts: { connections: 125 }, samples: [] },
    incidentId: 'in-1',
  },
];
const incident: Incident = {
  id: 'in-1',
  title: `addr flood at ${OWN_NODE_ID}`,
  severity: 'critical',
  status: 'active',
  firstSeenUs: 1_765_000_000_000_000,
  lastSeenUs: 1_765_000_060_000_000,
  alertIds: ['al-1', 'al-2'],
  subjects: [alerts[0]!.subject, { kind: 'netgroup', id: '11.0.0.0/16' }, alerts[1]!.subject],
  netgroups: ['11.0.0.0/16'],
  detectors: ['addr-flood', 'inbound-flood'],
  nodeIds: [OWN_NODE_ID],
};

async function keygen(member: string): Promise<{ key: string; entry: { name: string; keys: { publicKey: string }[] } }> {
  const key = join(dir, `${member}.key`);
  const r = await runCli(['collective', 'keygen', '--out', key, '--member', member]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`wrote the private key to .*${member}\\.key \\(mode 0600`));
  return { key, entry: JSON.parse(r.stdout) as { name: string; keys: { publicKey: string }[] } };
}

describe('peer-observer collective', { timeout: 60_000 }, () => {
  it('keygen, sign an incident report with nothing of ours in it, verify; replays refused across runs', async () => {
    const alice = await keygen('alice');
    const bob = await keygen('bob');
    assert.equal(statSync(alice.key).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(alice.key, 'utf8'), new RegExp(alice.entry.keys[0]!.publicKey), 'the PEM is the private key');
    const again = await runCli(['collective', 'keygen', '--out', alice.key]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists \(a key is never overwritten\)/);

    const trust = join(dir, 'collective.json');
    writeFileSync(trust, JSON.stringify({ collective: 'bnoc-test', members: [alice.entry, bob.entry] }));
    const reportFile = join(dir, 'incident.json');
    // Unredacted on purpose: sharing selects fields, it does not rely on the export's redaction.
    writeFileSync(reportFile, JSON.stringify(buildReport(incident, alerts)));

    const sign = (k: { key: string }, member: string, attackers = 'clear') =>
      runCli([
        'collective',
        'sign',
        reportFile,
        '--key',
        k.key,
        '--member',
        member,
        '--collective',
        'bnoc-test',
        '--seq-file',
        join(dir, `${member}.seq`),
        '--attackers',
        attackers,
      ]);
    const signed = await sign(alice, 'alice');
    assert.equal(signed.code, 0, signed.stderr);
    const wire = signed.stdout.trim();
    assert.equal(wire.split('\n').length, 1);
    for (const own of OWN) assert.ok(!containsToken(wire, own), `${own} must not leave: ${wire}`);
    assert.ok(!wire.includes('40123'), "the attacker's port is not shared either");
    const envelope = JSON.parse(wire) as { seq: number; report: { attackers: { kind: string; id: string }[]; detectors: string[] } };
    assert.deepEqual(envelope.report.attackers, [
      { kind: 'address', id: '11.0.1.2' },
      { kind: 'netgroup', id: '11.0.0.0/16' },
    ]);
    assert.deepEqual(envelope.report.detectors, ['addr-flood', 'inbound-flood']);
    assert.equal(envelope.seq, 1);
    const byNetgroup = await sign(alice, 'alice', 'netgroup');
    assert.ok(!byNetgroup.stdout.includes('11.0.1.2'), 'netgroup policy: no attacker address');
    for (const own of OWN) assert.ok(!containsToken(byNetgroup.stdout, own), own);
    assert.equal((JSON.parse(byNetgroup.stdout) as { seq: number }).seq, 2, 'the sequence file moved on');

    const input = join(dir, 'inbox.ndjson');
    const tampered = wire.replace('"critical"', '"info"');
    const impostor = (await sign(bob, 'alice')).stdout.trim();
    writeFileSync(input, [wire, byNetgroup.stdout.trim(), wire, tampered, impostor, 'garbage'].join('\n'));
    const state = join(dir, 'state.json');
    const verify = () => runCli(['collective', 'verify', input, '--trust', trust, '--state', state]);
    const first = await verify();
    assert.equal(first.code, 0, first.stderr);
    const results = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; reason?: string; member?: string });
    assert.deepEqual(
      results.map((x) => (x.ok ? `accepted ${x.member}` : x.reason)),
      ['accepted alice', 'accepted alice', 'replay', 'bad-signature', 'unknown-key', 'malformed'],
    );
    assert.match(first.stderr, /collective verify: accepted=2 malformed=1 unknown-key=1 bad-signature=1 replay=1$/m);
    const second = await verify();
    assert.deepEqual(
      second.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { reason?: string }).reason ?? 'accepted'),
      ['replay', 'replay', 'replay', 'bad-signature', 'unknown-key', 'malformed'],
      'a second run remembers',
    );
  });

  it('usage errors are one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['collective', 'keygen'], /required option '--out <file>'/],
      [['collective', 'keygen', '--out', join(dir, 'x.key'), '--member', 'Bad Name'], /--member "Bad Name": expected 1-32 lower-case/],
      [['collective', 'verify', '--trust', join(dir, 'missing.json')], /missing\.json: cannot read: no such file/],
      [
        ['collective', 'sign', join(dir, 'missing.json'), '--key', 'k', '--member', 'a', '--collective', 'c', '--seq-file', 's'],
        /missing\.json: cannot read: no such file/,
      ],
      [
        ['collective', 'sign', 'r.json', '--key', 'k', '--member', 'a', '--collective', 'c', '--seq-file', 's', '--attackers', 'all'],
        /--attackers "all": expected clear or netgroup/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
