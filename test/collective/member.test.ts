/**
 * startCollective in process, with a real nats-server and the real alert
 * manager: what it shares (and when), what it does not, and its counters.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startCollective, type Collective } from '../../src/collective/member.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import type { Signal } from '../../src/consumers/detectors/types.js';
import { hubPassword, startCollectiveHub, type CollectiveHub } from '../helpers/collective-hub.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

describe('collective member (in process, the shipped hub on a real nats-server)', () => {
  let hub: CollectiveHub;
  let nc: NatsConnection;
  const seen: { subject: string; body: { member: string; seq: number; report: { attackers: { id: string }[] } } }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'po-collective-member-'));
  const alice = generateKeyPair();

  before(async () => {
    hub = await startCollectiveHub();
    // What every member reads: the reports the hub's stream kept.
    nc = await connect({ servers: hub.server.url, user: 'bob', pass: hubPassword('bob') });
    nc.subscribe('collective.reports.*', { callback: (_e, m) => void seen.push({ subject: m.subject, body: m.json() }) });
    await nc.flush();
    writeFileSync(join(dir, 'alice.pem'), alice.privateKeyPem, { mode: 0o600 });
    writeFileSync(
      join(dir, 'trust.json'),
      JSON.stringify({ collective: 'c', members: [{ name: 'alice', keys: [{ publicKey: alice.publicKey }] }] }),
    );
  });

  after(async () => {
    await nc?.close();
    await hub?.stop();
  });

  it('shares an incident when it opens, a change after the interval (latest state), nothing about our node alone', async () => {
    const bus = new EmbeddedBus();
    const manager = new AlertManager({ nodeId: 'obs', source: 'detectors' }, (e) => bus.publish(e));
    const collective: Collective = await startCollective(bus, manager, {
      servers: [hub.url('alice')],
      keyFile: join(dir, 'alice.pem'),
      trustFile: join(dir, 'trust.json'),
      minMembers: 2,
      windowMs: 60_000,
      nodeId: 'obs',
      shareIntervalMs: 300,
      tickMs: 200,
    });
    try {
      assert.equal(collective.member, 'alice');
      const signal = (ip: string, t: number, o: Partial<Signal> = {}): Signal => ({
        detector: 'addr-flood',
        subject: { kind: 'peer', id: `${ip}:8333` },
        severity: 'warning',
        summary: 'x',
        counts: { addrEntries: 1000 },
        nodeId: 'obs',
        timeUs: t,
        netgroup: '93.184.0.0/16',
        sourceIp: ip,
        ...o,
      });
      const t0 = Date.now() * 1000;
      manager.ingest(signal('93.184.216.34', t0));
      await until(() => seen.length === 1, 'the first report');
      assert.equal(seen[0]!.subject, 'collective.reports.alice');
      assert.deepEqual(
        seen[0]!.body.report.attackers.map((a) => a.id),
        ['93.184.216.34'],
      );
      // A second attacker joins the incident within the interval: held, then shared with both.
      manager.ingest(signal('93.184.216.35', t0 + 1000));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(seen.length, 1, 'not within the interval');
      await until(() => seen.length === 2, 'the deferred report', 8000);
      assert.deepEqual(seen[1]!.body.report.attackers.map((a) => a.id).sort(), ['93.184.216.34', '93.184.216.35']);
      assert.ok(seen[1]!.body.seq > seen[0]!.body.seq);
      // An incident about our own node only: nothing leaves.
      manager.ingest(
        signal('', t0 + 2000, { detector: 'node-health', subject: { kind: 'node', id: 'obs' }, netgroup: undefined, sourceIp: undefined }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const c = collective.counters();
      assert.equal(c.shared, 2);
      assert.equal(c.notShared, 1);
      assert.equal(c.own, 2, 'the hub echoed our two reports, not taken as received');
      assert.equal(c.accepted, 0);
      assert.equal(c.shareErrors, 0);
      assert.equal(c.notEchoed, 0, 'the hub republished both');
    } finally {
      await collective.close();
      await bus.close();
    }
  });

  it('a hub that does not republish our reports (no reports stream) is said once and counted', async () => {
    const plain = await startNatsServer();
    const bus = new EmbeddedBus();
    const manager = new AlertManager({ nodeId: 'obs', source: 'detectors' }, (e) => bus.publish(e));
    const notices: string[] = [];
    const collective = await startCollective(bus, manager, {
      servers: [plain.url],
      keyFile: join(dir, 'alice.pem'),
      trustFile: join(dir, 'trust.json'),
      minMembers: 2,
      windowMs: 60_000,
      nodeId: 'obs',
      tickMs: 200,
      onNotice: (l) => notices.push(l),
    });
    try {
      const signal = (ip: string): Signal => ({
        detector: 'addr-flood',
        subject: { kind: 'peer', id: `${ip}:8333` },
        severity: 'warning',
        summary: 'x',
        counts: { addrEntries: 1000 },
        nodeId: 'obs',
        timeUs: Date.now() * 1000,
        netgroup: '93.184.0.0/16',
        sourceIp: ip,
      });
      manager.ingest(signal('93.184.216.34'));
      await until(() => collective.counters().notEchoed === 1, 'the missing echo counted');
      assert.equal(collective.counters().shared, 1);
      assert.equal(collective.counters().own, 0);
      const said = notices.filter((l) => l.startsWith('the hub did not republish'));
      assert.deepEqual(said, [
        "the hub did not republish 1 of our reports: is its reports stream set up (peer-observer collective hub-setup), with a quota of at least the trust file's maxReportsPerMinute?",
      ]);
    } finally {
      await collective.close();
      await bus.close();
      await plain.stop();
    }
  });

  it('refuses to start with a key that is not in the trust file, revoked, or of a member not in standing', async () => {
    const other = generateKeyPair();
    writeFileSync(join(dir, 'other.pem'), other.privateKeyPem, { mode: 0o600 });
    const o = { servers: [hub.url('alice')], trustFile: join(dir, 'trust.json'), minMembers: 2, windowMs: 1000, nodeId: 'obs' };
    const bus = new EmbeddedBus();
    const manager = new AlertManager({ nodeId: 'obs', source: 'detectors' }, () => {});
    await assert.rejects(
      startCollective(bus, manager, { ...o, keyFile: join(dir, 'other.pem') }),
      new RegExp(`key ${other.keyId} is not in`),
    );
    writeFileSync(
      join(dir, 'revoked.json'),
      JSON.stringify({ collective: 'c', members: [{ name: 'alice', keys: [{ publicKey: alice.publicKey, revoked: 'stolen' }] }] }),
    );
    await assert.rejects(
      startCollective(bus, manager, { ...o, keyFile: join(dir, 'alice.pem'), trustFile: join(dir, 'revoked.json') }),
      /of alice is revoked/,
    );
    // Vouched for by someone who left the file: not in standing, so the members would refuse everything we sign.
    writeFileSync(
      join(dir, 'unvouched.json'),
      JSON.stringify({ collective: 'c', members: [{ name: 'alice', vouchedBy: ['zoe'], keys: [{ publicKey: alice.publicKey }] }] }),
    );
    await assert.rejects(
      startCollective(bus, manager, { ...o, keyFile: join(dir, 'alice.pem'), trustFile: join(dir, 'unvouched.json') }),
      /--collective-key: alice is vouched for by no member in standing \(zoe\) in /,
    );
    await bus.close();
  });
});
