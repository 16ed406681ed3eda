/**
 * Per detector: a realistic attack that must raise its alert (naming the right
 * subject), and an honest baseline that must raise nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ObserverEvent } from '../../src/events/types.js';
import { addrPayload, closed, conn, ev, harness, message, opened, publicIp, T0, version } from './helpers.js';

const S = 1_000_000;

function alertsOf(h: ReturnType<typeof harness>, detector: string) {
  return h.manager.store.alerts({ detector });
}

/** Honest traffic: 20 peers from distinct netgroups, full handshakes, pings every 2 min, small invs, addr gossip. */
function honestTraffic(minutes: number, t0 = T0): ObserverEvent[] {
  const out: ObserverEvent[] = [];
  const peers = Array.from({ length: 20 }, (_, i) => conn(`${publicIp(i)}:8333`, i % 3 ? 'inbound' : 'outbound'));
  peers.forEach((c, i) => {
    const t = t0 + i * 3 * S;
    out.push(opened(c, t), version(c, t + 50_000, { startHeight: 850_000 + (i % 3), offsetSec: (i % 5) - 2 }));
    out.push(ev('handshake.complete', { conn: c, elapsedMs: 120, wtxidRelay: true, addrV2: true }, t + 100_000));
    if (c.direction === 'outbound')
      out.push(
        message(c, 'out', 'getaddr', {}, t + 200_000),
        message(
          c,
          'in',
          'addr',
          addrPayload(
            Array.from({ length: 1000 }, (_, k) => publicIp(10_000 * i + k)),
            Math.floor(t / S) - 3600,
          ),
          t + 900_000,
        ),
      );
  });
  for (let m = 0; m < minutes; m++) {
    const t = t0 + 60 * S + m * 60 * S;
    peers.forEach((c, i) => {
      if (m % 2 === i % 2) out.push(message(c, 'in', 'ping', { nonce: String(BigInt(i + 1) * 7919n + BigInt(m) * 104729n) }, t + i * 1000));
      out.push(message(c, 'in', 'inv', { count: 7, types: { wtx: 7 }, items: [] }, t + i * 1000 + 500));
      if (m % 10 === i % 10)
        out.push(message(c, 'in', 'addr', addrPayload([publicIp(500_000 + m * 100 + i)], Math.floor(t / S)), t + i * 1000 + 700));
    });
  }
  out.sort((a, b) => a.timeUs - b.timeUs);
  return out;
}

describe('honest baseline', () => {
  it('an hour of honest traffic from 20 peers raises no alert', () => {
    const h = harness();
    const events = honestTraffic(60);
    for (const e of events) {
      h.engine.process(e);
    }
    for (let t = T0; t <= events.at(-1)!.timeUs; t += 10 * S) h.engine.tick(t);
    assert.deepEqual(
      h.manager.store.alerts().map((a) => a.summary),
      [],
    );
  });
});

describe('addr-flood', () => {
  it('a 2021-style flood: unsolicited 1000-entry addrs with future timestamps', () => {
    const h = harness();
    const c = conn('198.18.0.0:1'.replace('198.18.0.0', '45.83.1.9'));
    h.feed([opened(c, T0), version(c, T0 + 10_000)]);
    for (let m = 0; m < 3; m++) {
      const t = T0 + (m + 1) * S;
      h.feed([
        message(
          c,
          'in',
          'addr',
          addrPayload(
            Array.from({ length: 1000 }, (_, k) => publicIp(m * 1000 + k)),
            Math.floor(t / S) + 590 + 60,
          ),
          t,
        ),
      ]);
    }
    const [a] = alertsOf(h, 'addr-flood');
    assert.ok(a);
    assert.deepEqual(a.subject, { kind: 'peer', id: '45.83.1.9:1' });
    assert.equal(a.severity, 'critical');
    assert.equal(a.evidence.counts['unsolicitedLarge'], 3);
    assert.equal(a.evidence.counts['futureEntries'], 3000);
    assert.ok(a.evidence.counts['rateLimited']! >= 2998);
    assert.equal(a.count, 3, 'one alert, updated, not three');
  });

  it('our getaddr refills the bucket: a 1000-entry answer is fine', () => {
    const h = harness();
    const c = conn('45.83.1.9:8333', 'outbound');
    h.feed([
      opened(c, T0),
      message(c, 'out', 'getaddr', {}, T0 + S),
      message(
        c,
        'in',
        'addr',
        addrPayload(
          Array.from({ length: 1000 }, (_, k) => publicIp(k)),
          Math.floor(T0 / S),
        ),
        T0 + 2 * S,
      ),
    ]);
    assert.deepEqual(alertsOf(h, 'addr-flood'), []);
  });

  it('non-routable entries and the log source rate-limited counts', () => {
    const h = harness();
    const c = conn('45.83.1.10:8333');
    const reserved = Array.from({ length: 10 }, (_, k) => `10.0.0.${k + 1}`);
    h.feed([message(c, 'in', 'addr', addrPayload(reserved, Math.floor(T0 / S)), T0)]);
    const [a] = alertsOf(h, 'addr-flood');
    assert.ok(a);
    assert.equal(a.evidence.counts['nonRoutableEntries'], 10);
    const c2 = conn('45.83.1.11:8333');
    h.engine.process({
      ...ev('addr.received', { conn: c2, addresses: 1000, processed: 1, rateLimited: 999 }, T0 + S),
      source: 'log',
    } as ObserverEvent);
    const b = alertsOf(h, 'addr-flood').find((x) => x.subject.id === '45.83.1.11:8333');
    assert.ok(b);
    assert.equal(b.evidence.counts['rateLimited'], 999);
  });
});

describe('ping-spam', () => {
  it('100 pings in 10 s and nonce 0 raise it; the peer is named', () => {
    const h = harness();
    const c = conn('45.83.2.1:40000');
    for (let i = 0; i < 100; i++) h.feed([message(c, 'in', 'ping', { nonce: '0' }, T0 + i * 100_000)]);
    const [a] = alertsOf(h, 'ping-spam');
    assert.ok(a);
    assert.equal(a.subject.id, '45.83.2.1:40000');
    assert.equal(a.severity, 'warning');
    assert.equal(a.evidence.counts['nonceZero'], 100);
  });
});

describe('inv-spam', () => {
  it('invs of 50 tx entries (> 35) and one 50,000-entry inv', () => {
    const h = harness();
    const c = conn('45.83.3.1:8333', 'outbound');
    for (let i = 0; i < 3; i++) h.feed([message(c, 'in', 'inv', { count: 50, types: { wtx: 50 }, items: [] }, T0 + i * S)]);
    assert.equal(alertsOf(h, 'inv-spam').length, 1);
    const c2 = conn('45.83.3.2:8333');
    h.feed([message(c2, 'in', 'inv', { count: 50_000, types: { tx: 50_000 }, items: [] }, T0)]);
    assert.ok(alertsOf(h, 'inv-spam').some((a) => a.subject.id === '45.83.3.2:8333'));
  });
});

describe('malformed-burst', () => {
  it('violations from one netgroup: per peer and per netgroup', () => {
    const h = harness();
    for (let i = 0; i < 25; i++) {
      const c = conn(`45.84.${i % 5}.${i}:5000`);
      h.feed([
        ev(
          'violation',
          { conn: c, kind: 'bad-checksum', action: 'drop-message', detail: 'checksum mismatch', command: 'ping' },
          T0 + i * 100_000,
        ),
      ]);
    }
    const byGroup = alertsOf(h, 'malformed-burst').find((a) => a.subject.kind === 'netgroup');
    assert.ok(byGroup);
    assert.equal(byGroup.subject.id, '45.84.0.0/16');
    const c = conn('45.85.1.1:5000');
    for (let i = 0; i < 5; i++)
      h.feed([ev('violation', { conn: c, kind: 'malformed-payload', action: 'disconnect', detail: 'bad', command: 'tx' }, T0 + i * S)]);
    assert.ok(alertsOf(h, 'malformed-burst').some((a) => a.subject.id === '45.85.1.1:5000'));
  });

  it('v2-transport peers and timeouts are not malformed traffic', () => {
    const h = harness();
    for (let i = 0; i < 50; i++) {
      const c = conn(`45.86.0.${i}:5000`);
      h.feed([
        ev('violation', { conn: c, kind: i % 2 ? 'v2-transport' : 'handshake-timeout', action: 'disconnect', detail: '' }, T0 + i * S),
      ]);
    }
    assert.deepEqual(alertsOf(h, 'malformed-burst'), []);
  });
});

describe('spy', () => {
  it('LinkingLion-like: short connections without verack, nonce 0, rotating user agents from one /24', () => {
    const h = harness();
    const agents = ['/Satoshi:0.20.1/', '/Satoshi:0.21.0/', '/Satoshi:22.0.0/', '/Satoshi:23.0.0/', '/btcwire:0.5.0/'];
    for (let i = 0; i < 10; i++) {
      const c = conn(`45.87.6.${10 + i}:${40000 + i}`);
      const t = T0 + i * 10 * S;
      h.feed([
        opened(c, t),
        version(c, t + 20_000, { nonce: '0', userAgent: agents[i % agents.length]!, startHeight: 700_000 }),
        closed(c, t + 1 * S, 1000, false),
      ]);
    }
    const a = alertsOf(h, 'spy').find((x) => x.subject.kind === 'netgroup');
    assert.ok(a);
    assert.equal(a.subject.id, '45.87.6.0/24');
    assert.ok(a.evidence.counts['shortNoVerack']! >= 5 && a.evidence.counts['nonceZero']! >= 3);
  });

  it('the published LinkingLion ranges are watch-listed by default (subject AS54098)', () => {
    const h = harness();
    const c = conn('162.218.65.33:51000');
    h.feed([opened(c, T0)]);
    const [a] = alertsOf(h, 'spy');
    assert.ok(a);
    assert.deepEqual(a.subject, { kind: 'asn', id: 'AS54098' });
    const h2 = harness({ spy: { watchlist: [{ cidr: '198.51.100.0/24', label: 'lab' }] } });
    h2.feed([opened(conn('162.218.65.33:51000'), T0), opened(conn('198.51.100.7:1'), T0)]);
    assert.deepEqual(
      h2.manager.store.alerts().map((x) => x.subject),
      [{ kind: 'netgroup', id: '198.51.100.0/24' }],
    );
  });
});

describe('inbound-flood', () => {
  it('most inbound connections from one /16 (eclipse attempt) names the netgroup', () => {
    const h = harness();
    const evs: ObserverEvent[] = [];
    for (let i = 0; i < 8; i++) evs.push(opened(conn(`${publicIp(i)}:8333`), T0 + i * S));
    for (let i = 0; i < 30; i++) evs.push(opened(conn(`45.88.${i % 200}.${i + 1}:${50000 + i}`), T0 + (10 + i) * S));
    h.feed(evs);
    const a = alertsOf(h, 'inbound-flood').find((x) => x.subject.kind === 'netgroup');
    assert.ok(a);
    assert.equal(a.subject.id, '45.88.0.0/16');
  });

  it('loopback peers are grouped by /16, so simulations spread over 127.x are judged fairly', () => {
    const h = harness();
    for (let i = 0; i < 20; i++) h.feed([opened(conn(`127.${i + 1}.0.2:${50000 + i}`), T0 + i * S)]);
    assert.deepEqual(alertsOf(h, 'inbound-flood'), []);
  });
});

describe('churn', () => {
  it('a connection storm beyond the learnt baseline; then a sudden drop of inbound connections', () => {
    const h = harness();
    let t = T0;
    // Ten minutes of history: 1 connection every 10 s, each lasting 5 min.
    const live: ReturnType<typeof conn>[] = [];
    for (let i = 0; i < 60; i++, t += 10 * S) {
      const c = conn(`${publicIp(i)}:8333`);
      h.feed([opened(c, t)]);
      live.push(c);
      h.engine.tick(t);
    }
    assert.deepEqual(alertsOf(h, 'churn'), []);
    for (let i = 0; i < 100; i++) h.feed([opened(conn(`${publicIp(1000 + i)}:8333`), t + i * 50_000)]);
    h.engine.tick(t + 10 * S);
    const storm = alertsOf(h, 'churn');
    assert.equal(storm.length, 1);
    assert.deepEqual(storm[0]!.subject, { kind: 'node', id: 'obs-1' });
  });

  it('sudden inbound drop', () => {
    const h = harness();
    const cs = Array.from({ length: 20 }, (_, i) => conn(`${publicIp(i)}:8333`));
    h.feed(cs.map((c, i) => opened(c, T0 + i * 100_000)));
    h.feed(cs.slice(0, 15).map((c, i) => closed(c, T0 + 10 * S + i * 100_000, 10_000, true)));
    const [a] = alertsOf(h, 'churn');
    assert.ok(a);
    assert.match(a.summary, /fell from 20 to \d+/);
    assert.equal(a.evidence.counts['inboundPeak'], 20);
  });
});

describe('churn: restarts are not drops', () => {
  const status = (inbound: number, uptimeSec: number, timeUs: number): ObserverEvent =>
    ev(
      'node.status',
      {
        chain: 'main',
        blocks: 1,
        headers: 1,
        bestBlockHash: null,
        initialBlockDownload: false,
        verificationProgress: 1,
        staleTips: 0,
        invalidTips: 0,
        version: 300000,
        subversion: '/Satoshi:30.0.0/',
        networkActive: true,
        connections: { total: inbound + 8, inbound, outbound: 8 },
        totalBytesIn: 0,
        totalBytesOut: 0,
        mempool: null,
        addrman: null,
        addrmanTopSources: null,
        uptimeSec,
        banned: 0,
        warnings: [],
      },
      timeUs,
    );

  it("the watched node's inbound falling within a minute is a drop; the same fall across a node restart is not", () => {
    const dropped = harness();
    dropped.feed([status(20, 10_000, T0), status(2, 10_030, T0 + 30 * S)]);
    assert.equal(alertsOf(dropped, 'churn').length, 1);
    assert.match(alertsOf(dropped, 'churn')[0]!.summary, /watched node's inbound connections fell from 20 to 2/);
    const restarted = harness();
    restarted.feed([status(20, 10_000, T0), status(2, 20, T0 + 30 * S), status(3, 50, T0 + 60 * S)]);
    assert.deepEqual(alertsOf(restarted, 'churn'), []);
    // A restart missed between two polls (uptime younger than the time since the last status) is one too.
    const missed = harness();
    missed.feed([status(20, 100, T0), status(1, 200, T0 + 40 * 60 * S)]);
    assert.deepEqual(alertsOf(missed, 'churn'), []);
  });

  it("a restarted node's peers vanishing from getpeerinfo (rpc closes) are not judged as a drop", () => {
    const h = harness();
    const rpc = (e: ObserverEvent): ObserverEvent => ({ ...e, source: 'rpc' }) as ObserverEvent;
    const cs = Array.from({ length: 20 }, (_, i) => conn(`${publicIp(i)}:8333`));
    h.feed(cs.map((c, i) => rpc(opened(c, T0 + i * 100_000))));
    h.feed(cs.map((c, i) => rpc(closed(c, T0 + 10 * S + i * 1000, 10_000, true))));
    assert.deepEqual(alertsOf(h, 'churn'), []);
  });
});

describe('time-offset', () => {
  it('several netgroups 2 hours ahead: a node-level warning, and per-peer info', () => {
    const h = harness();
    for (let i = 0; i < 4; i++) {
      const c = conn(`${publicIp(i)}:8333`, 'outbound');
      h.feed([version(c, T0 + i * S, { offsetSec: 7200 + i })]);
    }
    const node = alertsOf(h, 'time-offset').find((a) => a.subject.kind === 'node');
    assert.ok(node);
    assert.equal(node.severity, 'warning');
    assert.equal(alertsOf(h, 'time-offset').filter((a) => a.subject.kind === 'peer').length, 4);
  });
});

describe('message-rate (adaptive baseline)', () => {
  it('a burst of getdata far above the learnt rate', () => {
    const h = harness();
    const c = conn(`${publicIp(1)}:8333`);
    let t = T0;
    for (let b = 0; b < 40; b++) {
      for (let i = 0; i < 20; i++) h.feed([message(c, 'in', 'getdata', { count: 1, types: { wtx: 1 }, items: [] }, t + i * 400_000)]);
      t += 10 * S;
    }
    assert.deepEqual(alertsOf(h, 'message-rate'), []);
    for (let i = 0; i < 2000; i++) h.feed([message(c, 'in', 'getdata', { count: 1, types: { wtx: 1 }, items: [] }, t + i * 4000)]);
    h.engine.tick(t + 10 * S);
    const [a] = alertsOf(h, 'message-rate');
    assert.ok(a);
    assert.equal(a.evidence.counts['getdata.inBucket'], 2000);
  });
});

describe('fake-addr', () => {
  it('a source whose addresses mostly fail, against a network that mostly answers', () => {
    const h = harness();
    const evs: ObserverEvent[] = [];
    for (let i = 0; i < 200; i++)
      evs.push(
        ev(
          'connectivity.result',
          {
            addr: `${publicIp(i)}:8333`,
            sourcePeer: `${publicIp(5000 + (i % 10))}:8333`,
            reachable: i % 3 !== 0,
            reason: i % 3 ? 'version' : 'timeout',
            latencyMs: 80,
          },
          T0 + i * 1000,
        ),
      );
    h.feed(evs);
    assert.deepEqual(alertsOf(h, 'fake-addr'), []);
    for (let i = 0; i < 50; i++)
      h.feed([
        ev(
          'connectivity.result',
          { addr: `${publicIp(9000 + i)}:8333`, sourcePeer: '45.89.0.1:8333', reachable: false, reason: 'timeout', latencyMs: 5000 },
          T0 + 300 * S + i * 1000,
        ),
      ]);
    const [a] = alertsOf(h, 'fake-addr');
    assert.ok(a);
    assert.equal(a.subject.id, '45.89.0.1:8333');
  });
});

describe('node-health', () => {
  it('peers gone and invalid tips', () => {
    const h = harness();
    const status = (connections: number, invalidTips: number, t: number) =>
      ({
        ...ev(
          'node.status',
          {
            chain: 'main',
            blocks: 850_000,
            headers: 850_000,
            bestBlockHash: null,
            initialBlockDownload: false,
            verificationProgress: 1,
            staleTips: 0,
            invalidTips,
            version: 270000,
            subversion: '/Satoshi:27.0.0/',
            networkActive: true,
            connections: { total: connections, inbound: connections - 2 > 0 ? connections - 2 : 0, outbound: Math.min(2, connections) },
            totalBytesIn: 0,
            totalBytesOut: 0,
            mempool: null,
            addrman: null,
            addrmanTopSources: null,
            uptimeSec: 100,
            banned: 0,
            warnings: [],
          },
          t,
          'core-1',
        ),
        source: 'rpc',
      }) as ObserverEvent;
    h.feed([status(12, 0, T0), status(12, 0, T0 + 10 * S)]);
    assert.deepEqual(h.manager.store.alerts(), []);
    h.feed([status(12, 1, T0 + 20 * S), status(0, 1, T0 + 30 * S)]);
    const a = alertsOf(h, 'node-health');
    assert.equal(a.length, 1, 'one alert per node, escalated');
    assert.equal(a[0]!.severity, 'critical');
    assert.deepEqual(a[0]!.subject, { kind: 'node', id: 'core-1' });
  });
});
