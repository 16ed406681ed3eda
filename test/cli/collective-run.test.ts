/**
 * `run --collective` end to end, with a real nats-server as the collective's
 * hub (deploy/collective/ as shipped: one user per member, each allowed to
 * publish only under its own subject, the reports stream with its per-member
 * quota) and three real `run` processes, one per member, each with its own key:
 *
 * - the simulator's addr flood against alice's and bob's observers becomes a
 *   collective incident with k = 2 at all three members within 10 s; carol,
 *   attacked by nothing, raises no local alert but shows the collective one;
 * - carol publishing under alice's subject is refused by the server; carol
 *   signing a report that claims to be alice is refused by us (counted);
 * - carol flooding 10,000 signed reports: the hub's stream passes 60, the
 *   members accept the trust file's 30 and count the rest `rate-limited` in
 *   their pipeline.counters events (what /metrics shows);
 * - redaction: every byte the members read on the hub (read by its operator) is
 *   scanned for our observers' addresses, ports, node ids and host name.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { signReport } from '../../src/collective/envelope.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import { createPrivateKey } from 'node:crypto';
import { HUB_MEMBERS, hubPassword as password, startCollectiveHub, type CollectiveHub } from '../helpers/collective-hub.js';
import { buildDetectors } from '../../src/consumers/detectors/index.js';
import { bitcoindSkipReason, BITCOIND, startBitcoind } from '../helpers/bitcoind.js';
import { listeningPort, runCli, startCli, type Cli } from './helpers.js';
import { containsToken } from '../helpers/tokens.js';

const MEMBERS = HUB_MEMBERS;
type Name = (typeof MEMBERS)[number];

type Ev = { type: string; source: string; data: Record<string, unknown> };
const events = (cli: Cli) => cli.events() as unknown as Ev[];
const alerts = (cli: Cli, detector: string) => events(cli).filter((e) => e.type === 'alert' && e.data.detector === detector);

/** `collective list --format bitcoin-cli` of the hub test, for the real-node test after it. */
let banLines: string[] = [];

describe('run --collective: three members on a real hub', () => {
  let hub: CollectiveHub;
  const dir = mkdtempSync(join(tmpdir(), 'peer-observer-collective-run-'));
  const keys = {} as Record<Name, ReturnType<typeof generateKeyPair>>;
  const observers = {} as Record<Name, Cli>;
  const ports = {} as Record<Name, number>;
  let admin: NatsConnection;
  const wire: string[] = [];
  const url = (m: string) => hub.url(m);

  before(async () => {
    hub = await startCollectiveHub();
    for (const m of MEMBERS) {
      keys[m] = generateKeyPair();
      writeFileSync(join(dir, `${m}.pem`), keys[m].privateKeyPem, { mode: 0o600 });
    }
    writeFileSync(
      join(dir, 'collective.json'),
      JSON.stringify({
        collective: 'bnoc-test',
        // Below the hub's 60 a minute, so a flood shows both: the hub's quota and our rate, counted.
        limits: { maxReportsPerMinute: 30 },
        members: MEMBERS.map((m) => ({ name: m, keys: [{ publicKey: keys[m].publicKey }] })),
      }),
    );
    admin = await connect({ servers: `nats://127.0.0.1:${hub.port}`, user: 'operator', pass: password('operator') });
    admin.subscribe('collective.reports.>', { callback: (_e, msg) => void wire.push(Buffer.from(msg.data).toString('latin1')) });
    await admin.flush();
    for (const m of MEMBERS) {
      // The flags, the environment and the config file each carry some of the settings.
      const configFile = join(dir, `${m}.config.json`);
      writeFileSync(configFile, JSON.stringify({ collectiveWindow: 60 }));
      observers[m] = startCli(
        [
          'run',
          '--network',
          'regtest',
          '--listen',
          '127.0.0.1:0',
          '--json',
          '--node-id',
          `obs-${m}`,
          '--config',
          configFile,
          '--collective',
          url(m),
          '--collective-key',
          join(dir, `${m}.pem`),
          '--collective-min-members',
          '2',
          // carol archives: `collective list` reads what she was told.
          ...(m === 'carol' ? ['--data-dir', join(dir, 'carol-data')] : []),
        ],
        { env: { PEER_OBSERVER_COLLECTIVE_TRUST: join(dir, 'collective.json') } },
      );
    }
    for (const m of MEMBERS) {
      const o = observers[m];
      await o.until(() => listeningPort(o.stderr()) !== undefined && /collective: member /.test(o.stderr()), `${m} up`, 15_000);
      ports[m] = listeningPort(o.stderr())!;
      assert.match(o.stderr(), new RegExp(`collective: member ${m} \\(key ${keys[m].keyId}\\) of bnoc-test`));
    }
  });

  after(async () => {
    for (const m of MEMBERS) await observers[m]?.stop();
    await admin?.close();
    await hub?.stop();
  });

  it('an addr flood against two members is a collective incident (k = 2) at all three within 10 s; carol raises nothing locally', async () => {
    const t0 = Date.now();
    const attacks = (['alice', 'bob'] as const).map((m) =>
      runCli(['simulate', '--target', `127.0.0.1:${ports[m]}`, '--scenario', 'addr-flood-2021', '--duration', '3', '--peers', '3'], {
        timeoutMs: 20_000,
      }),
    );
    const confirmed = (m: Name) => () =>
      alerts(observers[m], 'collective-incident').some((e) => {
        const ids = e.data.nodeIds as string[];
        return ids.includes('alice') && ids.includes('bob');
      });
    for (const m of MEMBERS)
      await observers[m].until(confirmed(m), `the collective incident at ${m}`, Math.max(1, 10_000 - (Date.now() - t0)));
    const results = await Promise.all(attacks);
    for (const r of results) assert.equal(r.code, 0, r.stderr);

    for (const m of MEMBERS) {
      const inc = alerts(observers[m], 'collective-incident').find((e) => (e.data.nodeIds as string[]).length === 2)!;
      assert.equal(inc.source, 'collective');
      assert.deepEqual(inc.data.subject, { kind: 'netgroup', id: '127.21.0.0/16' });
      const samples = (inc.data.evidence as { samples: { member: string; evidenceDigest: string }[] }).samples;
      assert.deepEqual(samples.map((s) => s.member).sort(), ['alice', 'bob']);
      for (const s of samples) assert.match(s.evidenceDigest, /^[0-9a-f]{64}$/);
    }
    // Each attacked member shows the other's report as an alert from the collective; carol shows both.
    assert.ok(alerts(observers.alice, 'collective').some((e) => (e.data.nodeIds as string[])[0] === 'bob'));
    assert.ok(alerts(observers.bob, 'collective').some((e) => (e.data.nodeIds as string[])[0] === 'alice'));
    assert.deepEqual([...new Set(alerts(observers.carol, 'collective').map((e) => (e.data.nodeIds as string[])[0]))].sort(), [
      'alice',
      'bob',
    ]);
    // Local alerts: the attacked ones raised addr-flood; carol raised none.
    assert.ok(alerts(observers.alice, 'addr-flood').length > 0);
    assert.ok(alerts(observers.bob, 'addr-flood').length > 0);
    assert.deepEqual(
      events(observers.carol).filter((e) => e.type === 'alert' && e.source !== 'collective'),
      [],
    );
  });

  it('carol publishing under alice’s subject is refused by the server; carol signing as alice is refused by us; carol’s flood is held to the hub’s quota and our rate, counted', async () => {
    const carol = await connect({ servers: `nats://127.0.0.1:${hub.port}`, user: 'carol', pass: password('carol') });
    const errors: string[] = [];
    void (async () => {
      for await (const s of carol.status()) if (s.type === 'error') errors.push(String((s as { error?: unknown }).error ?? ''));
    })();
    const before = wire.length;
    const report = {
      kind: 'incident' as const,
      detectors: ['addr-flood'],
      severity: 'critical' as const,
      firstSeenUs: Date.now() * 1000,
      lastSeenUs: Date.now() * 1000,
      counts: {},
      attackers: [{ kind: 'netgroup' as const, id: '11.0.0.0/16' }],
      netgroups: [],
      evidenceDigest: 'e'.repeat(64),
    };
    const carolKey = createPrivateKey(keys.carol.privateKeyPem);
    // Carol's key, alice's name, on alice's subject: the server refuses it.
    carol.publish('collective.in.alice', signReport(report, { collective: 'bnoc-test', member: 'alice', privateKey: carolKey, seq: 1 }));
    // Carol's key, alice's name, on carol's own subject: delivered, and refused by every verifier.
    const claim = signReport(report, { collective: 'bnoc-test', member: 'alice', privateKey: carolKey, seq: 2 });
    carol.publish('collective.in.carol', claim);
    await carol.flush();
    const deadline = Date.now() + 5000;
    while (wire.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300));
    // Only the second reached the hub's subscribers.
    assert.deepEqual(wire.slice(before), [claim]);
    assert.ok(
      errors.some((e) => /permissions violation/i.test(e)),
      `no permissions violation: ${errors.join('; ')}`,
    );
    // Oversize: the hub's max_payload (64 KiB) is refused before it leaves carol.
    assert.throws(() => carol.publish('collective.in.carol', 'x'.repeat(70_000)), /max_payload|payload/i);

    // Carol floods 10,000 validly signed reports, each about a netgroup of its own: the hub's stream passes its
    // quota (60 a minute, the claim above included), the members accept the trust file's 30 and refuse the rest.
    const flood = Array.from({ length: 10_000 }, (_, i) =>
      signReport(
        { ...report, attackers: [{ kind: 'netgroup' as const, id: `44.${i >> 8}.${i & 255}.0/24` }], evidenceDigest: 'f'.repeat(64) },
        { collective: 'bnoc-test', member: 'carol', privateKey: carolKey, seq: 3 + i },
      ),
    );
    const onWire = () => wire.filter((w) => w.includes('f'.repeat(64))).length;
    for (const text of flood) carol.publish('collective.in.carol', text);
    await carol.flush();
    const fromCarol = (m: Name) => alerts(observers[m], 'collective').filter((e) => (e.data.nodeIds as string[])[0] === 'carol').length;
    for (const m of ['alice', 'bob'] as const) await observers[m].until(() => fromCarol(m) === 30, `carol's 30 at ${m}`, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(onWire(), 59, 'the hub passed 60 of carol’s in a minute: the claim and 59 of the flood');
    await carol.close();

    for (const m of ['alice', 'bob'] as const) {
      const o = observers[m];
      await o.stop();
      const last = events(o)
        .filter((e) => e.type === 'pipeline.counters' && e.data.stage === 'collective')
        .at(-1);
      assert.ok(last, `${m}: no collective counters`);
      const c = last.data.counters as Record<string, number>;
      assert.equal(c['refused.subject-mismatch'], 1, `${m}: ${JSON.stringify(c)}`);
      // Of carol's 59 the hub passed: 30 accepted (the trust file's rate), 29 refused and counted.
      assert.equal(c['refused.rate-limited'], 29, `${m}: ${JSON.stringify(c)}`);
      assert.equal(fromCarol(m), 30);
      assert.ok(c.shared! >= 1 && c.accepted! >= 1, `${m}: ${JSON.stringify(c)}`);
    }
    // Nothing claiming to be alice came from carol at any member.
    assert.ok(!alerts(observers.bob, 'collective').some((e) => JSON.stringify(e.data).includes('e'.repeat(64))));
  });

  it('redaction: none of our observers’ addresses, ports, node ids or host name is on the wire', () => {
    assert.ok(wire.length >= 3, `only ${wire.length} messages on the wire`);
    const own = ['127.0.0.1', hostname(), ...MEMBERS.map((m) => `obs-${m}`)];
    for (const bytes of wire) {
      for (const s of own) assert.ok(!containsToken(bytes, s), `${JSON.stringify(s)} on the wire: ${bytes}`);
      for (const m of MEMBERS) assert.doesNotMatch(bytes, new RegExp(`(?<![0-9])${ports[m]}(?![0-9])`), `port of ${m} on the wire`);
    }
  });

  it('collective list: from carol’s archive, the netgroup two members reported, in every format', async () => {
    await observers.carol.stop();
    const list = (...args: string[]) => runCli(['collective', 'list', '--data-dir', join(dir, 'carol-data'), ...args]);
    const json = await list('--min-members', '2', '--format', 'json');
    assert.equal(json.code, 0, json.stderr);
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; id: string; members: number; reporters: { member: string; firstSeen: string }[] });
    const entry = entries.find((e) => e.id === '127.21.0.0/16');
    assert.ok(entry, json.stdout);
    assert.equal(entry.kind, 'netgroup');
    assert.equal(entry.members, 2);
    assert.deepEqual(entry.reporters.map((r) => r.member).sort(), ['alice', 'bob']);
    for (const r of entry.reporters) assert.ok(Math.abs(Date.parse(r.firstSeen) - Date.now()) < 5 * 60_000, r.firstSeen);
    // Three members never reported it.
    assert.equal((await list('--min-members', '3')).stdout, '');

    const ban = await list('--format', 'bitcoin-cli', '--ban-time', '3600');
    assert.equal(ban.code, 0, ban.stderr);
    assert.ok(ban.stdout.split('\n').includes('setban 127.21.0.0/16 add 3600'), ban.stdout);
    for (const line of ban.stdout.trim().split('\n')) assert.match(line, /^setban [0-9a-f.:]+\/\d+ add 3600$/);
    banLines = ban.stdout.trim().split('\n');

    const csv = await list('--format', 'csv');
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'kind,id,members,reporters,first_seen,last_seen');
    assert.ok(
      lines.some((l) => /^netgroup,127\.21\.0\.0\/16,2,alice@[^;]+;bob@|^netgroup,127\.21\.0\.0\/16,2,bob@[^;]+;alice@/.test(l)),
      csv.stdout,
    );

    // The detectors format is a --detectors-config the spy detector takes as its watch list.
    const det = await list('--format', 'detectors');
    const config = JSON.parse(det.stdout) as { spy: { watchlist: { cidr: string; label: string }[] } };
    assert.ok(config.spy.watchlist.some((w) => w.cidr === '127.21.0.0/16' && /^collective:(alice\+bob|bob\+alice)$/.test(w.label)));
    assert.ok(
      config.spy.watchlist.some((w) => w.label === 'AS54098'),
      'the built-in ranges are kept',
    );
    buildDetectors(config);

    const bad = await list('--format', 'iptables');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format "iptables": expected one of json, csv, bitcoin-cli, detectors/);
  });
});

/** Open a TCP connection from `from` to the node; resolves with whether the node closed it within `ms`. */
function closedWithin(port: number, from: string, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port, localAddress: from });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.once('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('collective list → a real Bitcoin Core', { skip: bitcoindSkipReason() }, () => {
  it('the setban lines load with bitcoin-cli and the banned netgroup can no longer connect', async () => {
    assert.ok(banLines.includes('setban 127.21.0.0/16 add 3600'), `the hub test made no ban list: ${banLines.join('; ')}`);
    const node = await startBitcoind();
    try {
      const cli = join(dirname(BITCOIND!), 'bitcoin-cli');
      assert.ok(existsSync(cli), cli);
      // Before: a connection from the netgroup is held (the node waits for our version).
      assert.equal(await closedWithin(node.port, '127.21.0.9', 1000), false);
      for (const line of banLines)
        execFileSync(cli, ['-regtest', `-datadir=${node.datadir}`, `-rpcport=${node.rpcPort}`, ...line.split(' ')], { timeout: 30_000 });
      const banned = await node.rpc<{ address: string }[]>('listbanned');
      assert.ok(
        banned.some((b) => b.address === '127.21.0.0/16'),
        JSON.stringify(banned),
      );
      // After: any address of it is dropped at once (Core's CConnman::CreateNodeFromAcceptedSocket: "dropped (banned)") ...
      assert.equal(await closedWithin(node.port, '127.21.0.9', 5000), true);
      assert.equal(await closedWithin(node.port, '127.21.200.1', 5000), true);
      assert.match(node.log(), /connection from 127\.21\.0\.9:\d+ dropped \(banned\)/);
      // ... while another netgroup still connects.
      assert.equal(await closedWithin(node.port, '127.22.0.9', 1000), false);
    } finally {
      await node.stop();
    }
  });
});
