/**
 * Signing and verifying collective reports against a real trust file on disk:
 * every refusal the issue names (unknown key, revoked key, replay, altered
 * after signing, a member signing as another, oversize, too old, from the
 * future, a member's flood), each counted; key rotation and revocation by editing the file,
 * picked up without a restart; sequence state that survives a restart.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signReport, Verifier, type Refusal } from '../../src/collective/envelope.js';
import { generateKeyPair, loadPrivateKey, writePrivateKey } from '../../src/collective/keys.js';
import type { SharedReport } from '../../src/collective/report.js';
import { SeqCounter, SeqState } from '../../src/collective/seq.js';
import { loadTrust, TrustStore, type TrustFile } from '../../src/collective/trust.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-collective-'));
const stores: TrustStore[] = [];
after(() => stores.forEach((s) => s.close()));

interface Key {
  publicKey: string;
  privateKey: KeyObject;
}
function key(): Key {
  const k = generateKeyPair();
  return { publicKey: k.publicKey, privateKey: createPrivateKey(k.privateKeyPem) };
}

const report: SharedReport = {
  kind: 'incident',
  detectors: ['addr-flood'],
  severity: 'critical',
  firstSeenUs: 1_765_000_000_000_000,
  lastSeenUs: 1_765_000_060_000_000,
  counts: { 'addr-flood.addrEntries': 250_000, 'addr-flood.rateLimited': 249_000 },
  attackers: [
    { kind: 'netgroup', id: '11.0' },
    { kind: 'address', id: '11.0.1.2' },
  ],
  netgroups: ['11.0'],
  evidenceDigest: 'a'.repeat(64),
};

const alice = key();
const alice2 = key();
const bob = key();
const carol = key();
const stranger = key();

function trustFile(over: Partial<TrustFile> = {}): TrustFile {
  return {
    collective: 'bnoc-test',
    members: [
      { name: 'alice', weight: 2, keys: [{ publicKey: alice.publicKey }] },
      { name: 'bob', keys: [{ publicKey: bob.publicKey }] },
      { name: 'carol', keys: [{ publicKey: carol.publicKey }] },
    ],
    ...over,
  };
}

function writeTrust(path: string, t: unknown): void {
  // Like an editor: write a new file and rename it over the old one.
  writeFileSync(`${path}.new`, JSON.stringify(t));
  renameSync(`${path}.new`, path);
}

const NOW = 1_765_000_100_000;
const sign = (k: Key, member: string, seq: number, o: { issuedAt?: number; collective?: string; r?: SharedReport } = {}) =>
  signReport(o.r ?? report, {
    collective: o.collective ?? 'bnoc-test',
    member,
    privateKey: k.privateKey,
    seq,
    issuedAt: o.issuedAt ?? NOW - 1000,
  });

function verifier(path: string): { v: Verifier; store: TrustStore } {
  const store = new TrustStore(path, { intervalMs: 50 });
  stores.push(store);
  return { v: new Verifier({ trust: () => store.current(), seqs: new SeqState(), now: () => NOW }), store };
}

function refused(r: ReturnType<Verifier['verify']>): Refusal | 'accepted' {
  return r.ok ? 'accepted' : r.reason;
}

describe('collective reports: sign and verify', () => {
  it('a member signs, another verifies; re-ordered or re-spaced JSON still verifies (canonical form)', () => {
    const path = join(dir, 'ok.json');
    writeTrust(path, trustFile());
    const { v } = verifier(path);
    const wire = sign(alice, 'alice', 1);
    const r = v.verify(wire, 'alice');
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.envelope.report, report);
    const obj = JSON.parse(sign(bob, 'bob', 7)) as Record<string, unknown>;
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(obj).reverse()), null, 2);
    assert.equal(refused(v.verify(reordered)), 'accepted');
    assert.deepEqual(v.counters().accepted, 2);
  });

  it('refuses, and counts: unknown key, a member signing as another, altered fields, oversize, age, future, wrong collective, malformed', () => {
    const path = join(dir, 'refusals.json');
    writeTrust(path, trustFile({ limits: { maxReportBytes: 2048, maxAgeSec: 600, maxFutureSec: 60 } }));
    const { v } = verifier(path);
    assert.equal(refused(v.verify(sign(stranger, 'alice', 1))), 'unknown-key', 'a key not in the trust file');
    assert.equal(refused(v.verify(sign(carol, 'alice', 1))), 'unknown-key', "carol's key, claiming to be alice");
    assert.equal(refused(v.verify(sign(carol, 'carol', 1), 'alice')), 'subject-mismatch', "carol's report on alice's subject");
    assert.equal(refused(v.verify(sign(stranger, 'mallory', 1))), 'unknown-member');
    // Altered after signing: every field of the envelope and of the report.
    const good = JSON.parse(sign(alice, 'alice', 5)) as Record<string, unknown> & { report: Record<string, unknown> };
    const alter: [string, (e: typeof good) => void][] = [
      ['seq', (e) => (e.seq = 6)],
      ['issuedAt', (e) => (e.issuedAt = (e.issuedAt as number) + 1)],
      ['severity', (e) => (e.report.severity = 'info')],
      ['counts', (e) => ((e.report.counts as Record<string, number>)['addr-flood.addrEntries'] = 1)],
      ['attackers', (e) => (e.report.attackers = [{ kind: 'netgroup', id: '12.0' }])],
      ['netgroups', (e) => (e.report.netgroups = [])],
      ['digest', (e) => (e.report.evidenceDigest = 'b'.repeat(64))],
      [
        'sig',
        (e) => {
          const sig = Buffer.from(e.sig as string, 'base64url');
          sig[0] = sig[0]! ^ 1;
          e.sig = sig.toString('base64url');
        },
      ],
    ];
    for (const [what, change] of alter) {
      const e = structuredClone(good);
      change(e);
      assert.equal(refused(v.verify(JSON.stringify(e))), 'bad-signature', what);
    }
    const extra = { ...good, note: 'added' };
    assert.equal(refused(v.verify(JSON.stringify(extra))), 'malformed', 'an added field');
    const big = {
      ...report,
      counts: Object.fromEntries(
        Array.from({ length: 60 }, (_, i) => [`addr-flood.someLongCountName${'abcdefghij'[i % 10]}${'abcdefghij'[Math.floor(i / 10)]}`, i]),
      ),
    };
    const oversize = sign(alice, 'alice', 9, { r: big });
    assert.ok(Buffer.byteLength(oversize) > 2048);
    assert.equal(refused(v.verify(oversize)), 'oversize');
    assert.equal(refused(v.verify(sign(alice, 'alice', 10, { issuedAt: NOW - 601_000 }))), 'too-old');
    assert.equal(refused(v.verify(sign(alice, 'alice', 11, { issuedAt: NOW + 61_000 }))), 'from-future');
    assert.equal(refused(v.verify(sign(alice, 'alice', 12, { collective: 'other' }))), 'wrong-collective');
    for (const junk of ['', 'not json', '[]', '{"format":"peer-observer collective report"}', '\u0000'.repeat(100)])
      assert.equal(refused(v.verify(junk)), 'malformed', JSON.stringify(junk));
    // None of that advanced alice's sequence: her next real report is taken.
    assert.equal(refused(v.verify(sign(alice, 'alice', 1))), 'accepted');
    const c = v.counters();
    assert.deepEqual(
      [
        c['unknown-key'],
        c['subject-mismatch'],
        c['unknown-member'],
        c['bad-signature'],
        c.malformed,
        c.oversize,
        c['too-old'],
        c['from-future'],
        c['wrong-collective'],
        c.accepted,
      ],
      [2, 1, 1, 8, 6, 1, 1, 1, 1, 1],
    );
  });

  it('a replayed report is refused, so is an older one delivered late; the sequence state survives a restart', () => {
    const path = join(dir, 'replay.json');
    writeTrust(path, trustFile());
    const stateFile = join(dir, 'seqs.json');
    const store = new TrustStore(path, { intervalMs: 50 });
    stores.push(store);
    const v1 = new Verifier({ trust: () => store.current(), seqs: new SeqState(stateFile), now: () => NOW });
    const r3 = sign(alice, 'alice', 3);
    const r2 = sign(alice, 'alice', 2);
    assert.equal(refused(v1.verify(r3)), 'accepted');
    assert.equal(refused(v1.verify(r3)), 'replay');
    assert.equal(refused(v1.verify(r2)), 'replay');
    assert.equal(refused(v1.verify(sign(bob, 'bob', 1))), 'accepted', 'each member has its own sequence');
    // A new process with the same state file.
    const v2 = new Verifier({ trust: () => store.current(), seqs: new SeqState(stateFile), now: () => NOW });
    assert.equal(refused(v2.verify(r3)), 'replay');
    assert.equal(refused(v2.verify(sign(alice, 'alice', 4))), 'accepted');
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
  });

  it('rotation and revocation are one edit of the trust file, taken without a restart; a broken edit keeps the last good trust', async () => {
    const path = join(dir, 'rotate.json');
    writeTrust(path, trustFile());
    const errors: string[] = [];
    const store = new TrustStore(path, { intervalMs: 50, onError: (e) => errors.push(e.message) });
    stores.push(store);
    const v = new Verifier({ trust: () => store.current(), seqs: new SeqState(), now: () => NOW });
    assert.equal(refused(v.verify(sign(alice, 'alice', 1))), 'accepted');
    assert.equal(refused(v.verify(sign(alice2, 'alice', 2))), 'unknown-key', 'the new key is not in the file yet');

    // Rotate: add the new key, revoke the old one.
    const rotated = trustFile();
    rotated.members[0]!.keys = [{ publicKey: alice.publicKey, revoked: '2026-12-06: laptop stolen' }, { publicKey: alice2.publicKey }];
    writeTrust(path, rotated);
    await until(() => store.stats().reloads === 1, 'the reload');
    assert.equal(refused(v.verify(sign(alice2, 'alice', 3))), 'accepted');
    assert.equal(refused(v.verify(sign(alice, 'alice', 4))), 'revoked-key');
    assert.equal(refused(v.verify(sign(alice, 'alice', 5, { issuedAt: NOW - 300_000 }))), 'revoked-key', 'backdating does not help');

    // A broken edit: refused with a line naming the field, the rotated trust stays.
    writeTrust(path, { ...rotated, members: [{ name: 'Bad Name', keys: [] }] });
    await until(() => store.stats().errors === 1, 'the refused reload');
    assert.match(errors[0]!, /rotate\.json: members\.0\.name: expected 1-32 lower-case letters/);
    assert.equal(refused(v.verify(sign(alice2, 'alice', 6))), 'accepted');

    // Removing a member: their reports stop.
    const removed = trustFile();
    removed.members = removed.members.filter((m) => m.name !== 'bob');
    writeTrust(path, removed);
    await until(() => store.stats().reloads === 2, 'the second reload');
    assert.equal(refused(v.verify(sign(bob, 'bob', 1))), 'unknown-member');
  });

  it('a member flooding 10,000 reports is rate-limited and counted; the others still get through; the budget refills', () => {
    const path = join(dir, 'flood.json');
    writeTrust(path, trustFile({ limits: { maxReportsPerMinute: 30 } }));
    const store = new TrustStore(path, { intervalMs: 50 });
    stores.push(store);
    let now = NOW;
    const v = new Verifier({ trust: () => store.current(), seqs: new SeqState(), now: () => now });
    let accepted = 0;
    for (let seq = 1; seq <= 10_000; seq++) {
      if (refused(v.verify(sign(alice, 'alice', seq, { issuedAt: now }))) === 'accepted') accepted++;
      if (seq % 1000 === 0)
        assert.equal(refused(v.verify(sign(bob, 'bob', seq / 1000, { issuedAt: now }))), 'accepted', 'bob still gets through');
    }
    assert.equal(accepted, 30, 'the burst, then nothing');
    assert.equal(v.counters()['rate-limited'], 9970);
    // Forged reports in alice's name do not spend her budget (refused before the rate is looked at).
    now += 60_000;
    for (let i = 0; i < 100; i++) v.verify(sign(stranger, 'alice', 20_000 + i, { issuedAt: now }));
    let later = 0;
    for (let seq = 10_001; seq <= 10_100; seq++)
      if (refused(v.verify(sign(alice, 'alice', seq, { issuedAt: now }))) === 'accepted') later++;
    assert.equal(later, 30, 'a minute later, a full budget again');
  });

  it('trust file errors are one line naming the file and the field', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...trustFile(), extra: 1 }, /: unknown key "extra"/],
      [trustFile({ collective: 'has space' }), /collective: expected 1-64 letters/],
      [
        { ...trustFile(), members: [{ name: 'a', keys: [{ publicKey: 'short' }] }] },
        /members\.0\.keys\.0\.publicKey: expected an Ed25519 public key/,
      ],
      [
        {
          ...trustFile(),
          members: [
            { name: 'a', keys: [{ publicKey: alice.publicKey }] },
            { name: 'a', keys: [{ publicKey: bob.publicKey }] },
          ],
        },
        /members\.1\.name: "a" appears twice/,
      ],
      [
        {
          ...trustFile(),
          members: [
            { name: 'a', keys: [{ publicKey: alice.publicKey }] },
            { name: 'b', keys: [{ publicKey: alice.publicKey }] },
          ],
        },
        /members\.1\.keys\.0: the same key is already a's/,
      ],
      [
        { ...trustFile(), members: [{ name: 'a', vouchesFor: ['zed'], keys: [{ publicKey: alice.publicKey }] }] },
        /members\.0: unknown key "vouchesFor": vouching is written on the vouched member, as "vouchedBy"/,
      ],
      [
        { ...trustFile(), members: [{ name: 'a', vouchedBy: ['Zed!'], keys: [{ publicKey: alice.publicKey }] }] },
        /members\.0\.vouchedBy\.0: expected a member name/,
      ],
    ];
    cases.forEach(([t, message], i) => {
      const path = join(dir, `bad-${i}.json`);
      writeTrust(path, t);
      assert.throws(
        () => loadTrust(path),
        (err: Error) => message.test(err.message) && err.message.startsWith(path) && !err.message.includes('\n'),
      );
    });
    assert.throws(() => loadTrust(join(dir, 'missing.json')), /missing\.json: cannot read: no such file/);
    writeFileSync(join(dir, 'notjson.json'), '{');
    assert.throws(() => loadTrust(join(dir, 'notjson.json')), /notjson\.json: invalid JSON/);
  });

  it('keys: the private key file is 0600 and never overwritten; our own sequence counter never repeats across restarts', () => {
    const k = generateKeyPair();
    const file = join(dir, 'member.key');
    writePrivateKey(file, k.privateKeyPem);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.throws(() => writePrivateKey(file, k.privateKeyPem), /EEXIST/);
    const loaded = loadPrivateKey(file);
    const path = join(dir, 'own.json');
    writeTrust(path, trustFile({ members: [{ name: 'dave', keys: [{ publicKey: k.publicKey }] }] }));
    const { v } = verifier(path);
    const counterFile = join(dir, 'own-seq.json');
    const first = new SeqCounter(counterFile);
    const a = first.next();
    const b = first.next();
    const again = new SeqCounter(counterFile).next();
    assert.deepEqual([a, b, again], [1, 2, 3]);
    for (const seq of [a, b, again])
      assert.equal(
        refused(v.verify(signReport(report, { collective: 'bnoc-test', member: 'dave', privateKey: loaded, seq, issuedAt: NOW }))),
        'accepted',
      );
    writeFileSync(join(dir, 'rsa.key'), '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    assert.throws(() => loadPrivateKey(join(dir, 'rsa.key')), /rsa\.key: not a PEM private key/);
  });
});
