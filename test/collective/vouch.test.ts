/**
 * The trust file's vouching and weights (trust.ts, correlator.ts): who is in
 * standing, refusals of a member whose voucher left or was revoked (counted,
 * taken from an edited file without a restart, like key rotation), and the
 * correlation counting the members' weights toward k.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Correlator } from '../../src/collective/correlator.js';
import { signReport, Verifier } from '../../src/collective/envelope.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import type { SharedReport } from '../../src/collective/report.js';
import { SeqState } from '../../src/collective/seq.js';
import { parseTrust, TrustStore } from '../../src/collective/trust.js';

const dir = mkdtempSync(join(tmpdir(), 'po-collective-vouch-'));
const stores: TrustStore[] = [];
after(() => stores.forEach((s) => s.close()));

const keys = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'erin', 'x', 'y'].map((m) => [m, generateKeyPair()]));
const member = (name: string, o: { vouchedBy?: string[]; weight?: number; revoked?: boolean } = {}) => ({
  name,
  ...(o.weight !== undefined ? { weight: o.weight } : {}),
  ...(o.vouchedBy ? { vouchedBy: o.vouchedBy } : {}),
  keys: [{ publicKey: keys[name]!.publicKey, ...(o.revoked ? { revoked: 'stolen' } : {}) }],
});
const file = (members: ReturnType<typeof member>[]) => ({ collective: 'bnoc-test', members });

const report: SharedReport = {
  kind: 'incident',
  detectors: ['addr-flood'],
  severity: 'warning',
  firstSeenUs: 1,
  lastSeenUs: 2,
  counts: {},
  attackers: [{ kind: 'netgroup', id: '203.0.0.0/16' }],
  netgroups: [],
  evidenceDigest: 'b'.repeat(64),
};

describe('collective trust: vouching', () => {
  it('standing: on its own keys, or through a voucher in standing, transitively; a ring or a departed voucher is not enough', () => {
    const t = parseTrust(
      file([
        member('alice'),
        member('bob', { vouchedBy: ['alice'] }),
        member('carol', { vouchedBy: ['bob'] }), // through bob, through alice
        member('dave', { vouchedBy: ['zoe'] }), // zoe left the file
        member('erin', { vouchedBy: ['zoe', 'carol'] }), // one voucher in standing is enough
        member('x', { vouchedBy: ['y'] }),
        member('y', { vouchedBy: ['x'] }), // x and y vouch only for each other
      ]),
    );
    const standing = Object.fromEntries([...t.members.values()].map((m) => [m.name, m.standing]));
    assert.deepEqual(standing, {
      alice: true,
      bob: true,
      carol: true,
      dave: 'is vouched for by no member in standing (zoe)',
      erin: true,
      x: 'is vouched for by no member in standing (y)',
      y: 'is vouched for by no member in standing (x)',
    });
    // A voucher whose keys are all revoked vouches for nobody.
    const revoked = parseTrust(file([member('alice', { revoked: true }), member('bob', { vouchedBy: ['alice'] })]));
    assert.equal(revoked.members.get('alice')!.standing, 'has only revoked keys');
    assert.equal(revoked.members.get('bob')!.standing, 'is vouched for by no member in standing (alice)');
  });

  it('removing or revoking the voucher refuses the vouched member’s reports (counted), without a restart; vouching again restores them', async () => {
    const path = join(dir, 'collective.json');
    const write = (t: unknown) => {
      writeFileSync(`${path}.new`, JSON.stringify(t));
      renameSync(`${path}.new`, path);
    };
    write(file([member('alice'), member('bob', { vouchedBy: ['alice'] }), member('carol')]));
    const store = new TrustStore(path, { intervalMs: 50 });
    stores.push(store);
    const v = new Verifier({ trust: () => store.current(), seqs: new SeqState() });
    const bob = createPrivateKey(keys.bob!.privateKeyPem);
    let seq = 0;
    const fromBob = () => {
      const r = v.verify(signReport(report, { collective: 'bnoc-test', member: 'bob', privateKey: bob, seq: ++seq }), 'bob');
      return r.ok ? 'accepted' : `${r.reason}: ${r.detail}`;
    };
    const reloaded = async (n: number) => {
      for (const deadline = Date.now() + 5000; store.stats().reloads < n; await new Promise((r) => setTimeout(r, 20)))
        if (Date.now() > deadline) throw new Error(`reload ${n} not seen`);
    };
    assert.equal(fromBob(), 'accepted');

    // alice leaves the collective: bob, whom only she vouched for, is out with her.
    write(file([member('bob', { vouchedBy: ['alice'] }), member('carol')]));
    await reloaded(1);
    assert.equal(fromBob(), 'unvouched: bob is vouched for by no member in standing (alice)');
    // carol vouches for him as well: in again.
    write(file([member('bob', { vouchedBy: ['alice', 'carol'] }), member('carol')]));
    await reloaded(2);
    assert.equal(fromBob(), 'accepted');
    // carol's only key is revoked: her vouching goes with it.
    write(file([member('bob', { vouchedBy: ['alice', 'carol'] }), member('carol', { revoked: true })]));
    await reloaded(3);
    assert.match(fromBob(), /^unvouched: /);
    assert.equal(v.counters().unvouched, 2);
    assert.equal(v.counters().accepted, 2);
  });

  it('the old voucher-side field is refused with what to write instead', () => {
    assert.throws(
      () => parseTrust({ collective: 'c', members: [{ ...member('alice'), vouchesFor: ['bob'] }, member('bob')] }),
      /members\.0: unknown key "vouchesFor": vouching is written on the vouched member, as "vouchedBy"/,
    );
  });
});

describe('collective correlation: weights', () => {
  it('k is reached by the members’ weights: a heavy member alone, or light ones together', () => {
    const weights: Record<string, number> = { heavy: 2, light1: 0.5, light2: 0.5, plain: 1 };
    const c = new Correlator({ minMembers: 2, windowMs: 60_000, weightOf: (m) => weights[m] ?? 0 });
    const heavy = c.add('heavy', report, 0);
    assert.equal(heavy.length, 1, 'weight 2 alone reaches k = 2');
    assert.deepEqual(
      heavy[0]!.members.map((m) => m.member),
      ['heavy'],
    );
    assert.equal(heavy[0]!.weight, 2);

    const other = { ...report, attackers: [{ kind: 'netgroup' as const, id: '198.51.0.0/16' }] };
    assert.deepEqual(c.add('light1', other, 1), []);
    assert.deepEqual(c.add('light2', other, 2), [], 'two members of weight 0.5: 1 < 2');
    const joined = c.add('plain', other, 3);
    assert.equal(joined.length, 1);
    assert.equal(joined[0]!.weight, 2);
    assert.equal(joined[0]!.members.length, 3);

    // Ten members of weight 0.1 make k = 1 (not 0.9999999999999999).
    const tenth = new Correlator({ minMembers: 1, windowMs: 60_000, weightOf: () => 0.1 });
    for (let i = 0; i < 9; i++) assert.deepEqual(tenth.add(`m${i}`, report, i), []);
    const ten = tenth.add('m9', report, 9);
    assert.equal(ten.length, 1);
    assert.equal(ten[0]!.weight, 1);
  });

  it('weights are read at each check: a member whose weight falls to 0 (removed, out of standing) stops counting', () => {
    const weights: Record<string, number> = { alice: 1, bob: 1, carol: 1 };
    const c = new Correlator({ minMembers: 2, windowMs: 60_000, weightOf: (m) => weights[m] ?? 0 });
    c.add('alice', report, 0);
    weights.alice = 0; // removed from the trust file
    assert.deepEqual(c.add('bob', report, 1), [], 'alice no longer counts');
    const out = c.add('carol', report, 2);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.weight, 2);
  });
});
