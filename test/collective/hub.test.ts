/**
 * The collective's hub as shipped (deploy/collective/: nats-server.conf, the
 * reports stream, leaf.conf) on a real nats-server, with two members in
 * process (the real startCollective and alert manager) and a third as a bare
 * NATS client with its own valid key:
 *
 * - alice joins from her own nats-server through a leaf-node connection; bob
 *   connects directly: each receives the other's reports, and their honest
 *   incidents become a collective incident at both;
 * - carol floods 10,000 validly signed reports: the hub's stream keeps 60 (its
 *   per-member quota), our verifiers accept the trust file's 30 of those and
 *   refuse the rest as `rate-limited` (counted), and an incident alice and bob
 *   report during the flood is still a collective incident at both within 10 s;
 * - the trust file edited while they run: alice's weight 2 makes her report
 *   alone a collective incident (k = 2); bob, vouched for by a member who is
 *   not in the file, is refused (`unvouched`, counted);
 * - what the server itself refuses: a report under another member's subject
 *   (also from a leaf node), a report published past the stream, a message over
 *   max_payload (sent by hand on a raw socket, so the server, not the client
 *   library, is what refuses it).
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { signReport } from '../../src/collective/envelope.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import { startCollective, type Collective } from '../../src/collective/member.js';
import type { SharedReport } from '../../src/collective/report.js';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import type { Signal } from '../../src/consumers/detectors/types.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { hubPassword, startCollectiveHub, startLeaf, untilLeaf, type CollectiveHub } from '../helpers/collective-hub.js';
import { until } from '../helpers/until.js';

interface Member {
  collective: Collective;
  notices: string[];
  manager: AlertManager;
  bus: EmbeddedBus;
  events: ObserverEvent[];
}

const incidentsAbout = (m: Member, netgroup: string) =>
  m.events.filter(
    (e) =>
      e.type === 'alert' &&
      (e.data as { detector: string }).detector === 'collective-incident' &&
      (e.data as { subject: { id: string } }).subject.id === netgroup,
  );

describe('the collective hub as shipped (real nats-server, a leaf-node member, a flooding member)', () => {
  let hub: CollectiveHub;
  let leaf: Awaited<ReturnType<typeof startLeaf>>;
  const dir = mkdtempSync(join(tmpdir(), 'po-collective-hub-'));
  const keys = { alice: generateKeyPair(), bob: generateKeyPair(), carol: generateKeyPair() };
  const members = {} as Record<'alice' | 'bob', Member>;

  const join_ = async (name: 'alice' | 'bob', server: string): Promise<Member> => {
    const bus = new EmbeddedBus();
    const events: ObserverEvent[] = [];
    const notices: string[] = [];
    const sub = bus.subscribe({ types: ['alert'] });
    void (async () => {
      for await (const e of sub) events.push(e);
    })();
    const manager = new AlertManager({ nodeId: `obs-${name}`, source: 'detectors' }, (e) => bus.publish(e));
    const collective = await startCollective(bus, manager, {
      servers: [server],
      keyFile: join(dir, `${name}.pem`),
      trustFile: join(dir, 'collective.json'),
      minMembers: 2,
      windowMs: 60_000,
      nodeId: `obs-${name}`,
      onNotice: (line) => notices.push(line),
    });
    return { collective, manager, bus, events, notices };
  };

  const attack = (m: Member, ip: string, netgroup: string) => {
    const signal: Signal = {
      detector: 'addr-flood',
      subject: { kind: 'peer', id: `${ip}:8333` },
      severity: 'warning',
      summary: 'addr flood',
      counts: { addrEntries: 5000 },
      nodeId: 'obs',
      timeUs: Date.now() * 1000,
      netgroup,
      sourceIp: ip,
    };
    m.manager.ingest(signal);
  };

  before(async () => {
    hub = await startCollectiveHub();
    for (const [m, k] of Object.entries(keys)) writeFileSync(join(dir, `${m}.pem`), k.privateKeyPem, { mode: 0o600 });
    // The trust file's rate (30 a minute) is below the hub's quota (60 a minute), so both layers show in the flood.
    writeFileSync(
      join(dir, 'collective.json'),
      JSON.stringify({
        collective: 'bnoc-test',
        limits: { maxReportsPerMinute: 30 },
        members: Object.entries(keys).map(([name, k]) => ({ name, keys: [{ publicKey: k.publicKey }] })),
      }),
    );
    // alice: her own nats-server (no users of its own), a leaf node of the hub as user alice.
    leaf = await startLeaf(hub, 'alice');
    members.alice = await join_('alice', leaf.url);
    members.bob = await join_('bob', hub.url('bob'));
    // alice's subscription has crossed the link to the hub.
    await untilLeaf(hub, (l) => l[0]!.subscriptions_list?.includes('collective.reports.*') ?? false, 'alice’s subscription on the hub');
  });

  after(async () => {
    for (const m of Object.values(members)) {
      await m.collective.close();
      await m.bus.close();
    }
    await leaf?.stopAll();
    await hub?.stop();
  });

  it('a member behind a leaf node: her reports reach the others, theirs reach her, and they correlate at both', async () => {
    attack(members.alice, '93.184.216.34', '93.184.0.0/16');
    attack(members.bob, '93.184.7.7', '93.184.0.0/16');
    for (const m of ['alice', 'bob'] as const)
      await until(() => incidentsAbout(members[m], '93.184.0.0/16').length > 0, `the collective incident at ${m}`);
    const fromOther = (m: Member, other: string) =>
      m.events.some(
        (e) =>
          (e.data as { detector: string; nodeIds: string[] }).detector === 'collective' &&
          (e.data as { nodeIds: string[] }).nodeIds[0] === other,
      );
    assert.ok(fromOther(members.alice, 'bob'), 'bob’s report at alice (hub → leaf)');
    assert.ok(fromOther(members.bob, 'alice'), 'alice’s report at bob (leaf → hub)');
    // The hub's stream holds one report of each (a leaf node publishes under its user's subject like anyone).
    const held = await hub.held();
    // alice's server keeps a JetStream of its own (its domain): it answers there, and the hub's stays the hub's.
    const local = await connect({ servers: leaf.url });
    const localJsm = await jetstreamManager(local);
    await localJsm.streams.add({ name: 'PO', subjects: ['po.v1.>'] });
    local.publish('po.v1.obs-alice.test', 'our own bus');
    await local.flush();
    assert.equal((await localJsm.streams.info('PO')).state.messages, 1);
    await local.close();
    assert.deepEqual(await hub.jsm.streams.names().next(), ['COLLECTIVE']);
    assert.equal(held['collective.in.alice'], 1);
    assert.equal(held['collective.in.bob'], 1);
    for (const m of ['alice', 'bob'] as const) {
      const c = members[m].collective.counters();
      assert.equal(c.shared, 1, `${m}: ${JSON.stringify(c)}`);
      assert.equal(c.accepted, 1, `${m}: ${JSON.stringify(c)}`);
      assert.equal(c.own, 1, `${m}: its own report came back from the hub`);
    }
  });

  it('carol floods 10,000 signed reports: the hub keeps its quota, we accept our rate, the rest is counted; alice and bob still correlate within 10 s', async () => {
    const carol = await connect({ servers: hub.server.url, user: 'carol', pass: hubPassword('carol') });
    const privateKey = createPrivateKey(keys.carol.privateKeyPem);
    const t0 = Date.now();
    // Each report names a netgroup of its own: carol alone never makes an incident.
    const flood = Array.from({ length: 10_000 }, (_, i) => {
      const report: SharedReport = {
        kind: 'incident',
        detectors: ['addr-flood'],
        severity: 'critical',
        firstSeenUs: t0 * 1000,
        lastSeenUs: t0 * 1000,
        counts: { 'addr-flood.addrEntries': i },
        attackers: [{ kind: 'netgroup', id: `44.${i >> 8}.${i & 255}.0/24` }],
        netgroups: [],
        evidenceDigest: 'c'.repeat(64),
      };
      return signReport(report, { collective: 'bnoc-test', member: 'carol', privateKey, seq: i + 1, issuedAt: t0 });
    });
    const signedMs = Date.now() - t0;
    // Half the flood, then alice's and bob's honest reports, then the other half.
    for (const text of flood.slice(0, 5000)) carol.publish('collective.in.carol', text);
    const tAttack = Date.now();
    attack(members.alice, '198.51.100.7', '198.51.0.0/16');
    attack(members.bob, '198.51.9.9', '198.51.0.0/16');
    for (const text of flood.slice(5000)) carol.publish('collective.in.carol', text);
    await carol.flush();
    const sentMs = Date.now() - t0 - signedMs;
    for (const m of ['alice', 'bob'] as const)
      await until(() => incidentsAbout(members[m], '198.51.0.0/16').length > 0, `the collective incident at ${m} during the flood`, 10_000);
    const incidentMs = Date.now() - tAttack;

    // The server: at most the stream's quota of carol's in its window, the rest refused before any member saw it.
    assert.equal((await hub.held())['collective.in.carol'], 60);
    // Our verifiers: of the 60 delivered, the trust file's 30 a minute accepted, 30 refused and counted.
    for (const m of ['alice', 'bob'] as const) {
      const c = members[m].collective.counters();
      await until(() => members[m].collective.counters().received - c.own >= 62, `carol's 60 and the other's 2 reports at ${m}`);
      const d = members[m].collective.counters();
      assert.equal(d.received - d.own, 62, `${m}: carol's 60 and the other member's 2 reports: ${JSON.stringify(d)}`);
      assert.equal(d.refused['rate-limited'], 30, `${m}: ${JSON.stringify(d)}`);
      assert.equal(d.accepted, 2 + 30, `${m}: the other member's 2 and carol's 30`);
      const fromCarol = members[m].events.filter(
        (e) => (e.data as { detector: string }).detector === 'collective' && (e.data as { nodeIds: string[] }).nodeIds[0] === 'carol',
      );
      assert.equal(fromCarol.length, 30);
    }
    // No collective incident from carol's netgroups (each named by her alone).
    for (const m of ['alice', 'bob'] as const) assert.equal(incidentsAbout(members[m], '44.0.1.0/24').length, 0);
    await carol.close();
    console.log(
      `# flood: signed 10,000 in ${signedMs} ms, all sent ${sentMs} ms after; the collective incident at both ${incidentMs} ms after the attack`,
    );
  });

  it('trust file edits, live: a weight-2 member alone makes a collective incident; a member whose voucher left is refused (counted)', async () => {
    // alice weighs 2 (k = 2 alone); bob is now vouched for only by dave, who is not in the file.
    writeFileSync(
      join(dir, 'collective.json'),
      JSON.stringify({
        collective: 'bnoc-test',
        limits: { maxReportsPerMinute: 30 },
        members: Object.entries(keys).map(([name, k]) => ({
          name,
          ...(name === 'alice' ? { weight: 2 } : {}),
          ...(name === 'bob' ? { vouchedBy: ['dave'] } : {}),
          keys: [{ publicKey: k.publicKey }],
        })),
      }),
    );
    for (const m of ['alice', 'bob'] as const)
      await until(() => members[m].collective.counters().trustReloads === 1, `${m} took the edited trust file`, 5000);
    attack(members.alice, '81.2.69.160', '81.2.0.0/16');
    for (const m of ['alice', 'bob'] as const)
      await until(() => incidentsAbout(members[m], '81.2.0.0/16').length > 0, `alice's incident alone, weight 2, at ${m}`);
    const inc = incidentsAbout(members.bob, '81.2.0.0/16')[0]!.data as { nodeIds: string[]; evidence: { counts: Record<string, number> } };
    assert.deepEqual(inc.nodeIds, ['alice']);
    assert.deepEqual(inc.evidence.counts, { members: 1, weight: 2 });

    // bob is told at once.
    assert.deepEqual(
      members.bob.notices.filter((l) => l.startsWith('trust file')),
      [
        `trust file reloaded: bob is vouched for by no member in standing (dave) in ${join(dir, 'collective.json')}: the members will refuse what we share`,
      ],
    );
    assert.deepEqual(
      members.alice.notices.filter((l) => l.startsWith('trust file')),
      [],
    );
    const refusedBefore = members.alice.collective.counters().refused.unvouched;
    attack(members.bob, '5.9.1.1', '5.9.0.0/16');
    await until(() => members.alice.collective.counters().refused.unvouched === refusedBefore + 1, 'bob refused at alice');
    assert.ok(
      !members.alice.events.some((e) => JSON.stringify(e.data).includes('5.9.0.0/16')),
      'nothing of bob’s report became an alert at alice',
    );
  });

  it('the server refuses a report under another member’s subject (directly or from a leaf node), past the stream, or over max_payload', async () => {
    const before = await hub.held();
    const carol = await connect({ servers: hub.server.url, user: 'carol', pass: hubPassword('carol') });
    const errors: string[] = [];
    void (async () => {
      for await (const s of carol.status()) if (s.type === 'error') errors.push(String((s as { error?: unknown }).error ?? ''));
    })();
    const received: string[] = [];
    const bob = await connect({ servers: hub.server.url, user: 'bob', pass: hubPassword('bob') });
    bob.subscribe('collective.reports.*', { callback: (_e, msg) => void received.push(msg.string()) });
    await bob.flush();
    carol.publish('collective.in.alice', 'carol as alice'); // another member's subject
    carol.publish('collective.reports.alice', 'carol past the stream'); // what members read: only the stream publishes there
    carol.publish('collective.reports.carol', 'carol past her quota');
    await carol.flush();
    // From alice's leaf node, anyone on it publishing as bob: the hub takes only alice's subject from the link.
    const local = await connect({ servers: leaf.url });
    local.publish('collective.in.bob', 'leaf as bob');
    await local.flush();
    await local.close();
    await until(() => errors.length >= 3, 'three permission violations');
    for (const [i, subject] of ['collective.in.alice', 'collective.reports.alice', 'collective.reports.carol'].entries())
      assert.match(errors[i]!, new RegExp(`Permissions Violation for Publish to "${subject.replace(/\./g, '\\.')}"`));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received, []);
    assert.deepEqual(await hub.held(), before, 'nothing entered the stream');
    await carol.close();
    await bob.close();

    // Over max_payload, written by hand: the server answers with an error and closes the connection.
    const reply = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect(hub.port, '127.0.0.1');
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        text += d;
        if (text.startsWith('INFO ') && !text.includes('CONNECT-SENT')) {
          text += 'CONNECT-SENT';
          s.write(`CONNECT {"user":"carol","pass":"${hubPassword('carol')}","verbose":false,"pedantic":false}\r\n`);
          // The header is enough: the server judges the announced size before reading the payload (and
          // closing with the payload unread would reset the connection before its answer is read).
          s.write(`PUB collective.in.carol 70000\r\n`);
        }
      });
      s.once('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(text) : reject(e)));
      s.once('close', () => resolve(text));
      setTimeout(() => s.destroy(new Error(`not closed: ${text}`)), 5000).unref();
    });
    assert.match(reply, /-ERR 'Maximum Payload Violation'/);
    assert.deepEqual(await hub.held(), before);
  });
});
