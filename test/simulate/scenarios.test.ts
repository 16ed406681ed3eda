/**
 * Every attack scenario against a real observer (startObserver on 127.0.0.1:0):
 * each must produce its raw effect in the observer's own events, from its own
 * loopback range. Detector-level checks are in test/integration/.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventDataByType, EventType, ObserverEvent } from '../../src/events/types.js';
import { classifyIp, ipFromString } from '../../src/protocol/address.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { startObserver, type ObserverLimits } from '../../src/sources/p2p/observer.js';
import { runSimulation, type SimulationResult } from '../../src/simulate/runner.js';
import { LINKINGLION_PREFIX } from '../../src/simulate/scenarios/linkinglion.js';

const network = NETWORKS.regtest;

interface Run {
  events: ObserverEvent[];
  result: SimulationResult;
  of<T extends EventType>(type: T): EventDataByType[T][];
  inbound(command: string): EventDataByType['message'][];
}

async function against(
  scenario: string,
  o: { durationMs: number; peers?: number; rate?: number; limits?: Partial<ObserverLimits>; settleMs?: number },
): Promise<Run> {
  const events: ObserverEvent[] = [];
  const observer = await startObserver({
    network,
    nodeId: 'sim-test',
    listen: [{ host: '127.0.0.1', port: 0 }],
    connect: [],
    publish: (e) => events.push(e),
    // Room for each whole attack: these tests are about what the detectors see, not the defences (test/cli/eviction.test.ts).
    limits: { maxConnections: 1000, maxPerNetgroup: 1000, maxPendingHandshakes: 1000, ...o.limits },
  });
  let result: SimulationResult;
  try {
    result = await runSimulation({
      network,
      target: observer.listening[0]!,
      scenario,
      durationMs: o.durationMs,
      ...(o.peers !== undefined ? { peers: o.peers } : {}),
      ...(o.rate !== undefined ? { rate: o.rate } : {}),
    });
    await new Promise((r) => setTimeout(r, o.settleMs ?? 200));
  } finally {
    await observer.stop();
  }
  const of = <T extends EventType>(type: T) => events.filter((e) => e.type === type).map((e) => e.data as EventDataByType[T]);
  return {
    events,
    result,
    of,
    inbound: (command) => of('message').filter((m) => m.dir === 'in' && m.command === command),
  };
}

const ipOf = (remote: string) => remote.slice(0, remote.lastIndexOf(':'));
const in16 = (ip: string, prefix: string) => ip.startsWith(`${prefix}.`);

describe('simulate scenarios against a real observer', { timeout: 60_000 }, () => {
  it('addr-flood-2021: 1000-entry addr from N sources, future timestamps, reserved entries', async () => {
    const r = await against('addr-flood-2021', { durationMs: 1500, peers: 3, rate: 4 });
    const addr = r.inbound('addr');
    assert.ok(addr.length >= 9, `addr messages: ${addr.length}`);
    const sources = new Set(addr.map((m) => ipOf(m.conn.remote)));
    assert.deepEqual([...sources].sort(), ['127.21.0.1', '127.21.0.2', '127.21.0.3']);
    const now = Date.now() / 1000;
    let future = 0;
    let reserved = 0;
    for (const m of addr) {
      const p = m.payload as { count: number; entries: { time: number; addr: string }[] };
      assert.equal(p.count, 1000);
      assert.equal(p.entries.length, 1000);
      for (const e of p.entries) {
        assert.ok(e.time <= now + 601, 'at most 10 minutes ahead');
        if (e.time > now + 60) future++;
        if (classifyIp(ipFromString(e.addr)) !== 'routable') reserved++;
      }
    }
    assert.ok(future > addr.length * 500, `future entries: ${future}`);
    assert.ok(reserved > addr.length * 50 && reserved < addr.length * 200, `reserved entries: ${reserved}`);
    assert.equal(r.of('violation').length, 0);
    assert.equal(r.result.stats.extra.addrEntries, r.result.stats.extra.addrMessages! * 1000);
  });

  it('linkinglion: short connections from one /24, no verack, nonce 0, rotating user agents', async () => {
    const r = await against('linkinglion', { durationMs: 2000, peers: 3, rate: 8 });
    const closed = r.of('connection.closed');
    assert.ok(closed.length >= 8, `connections: ${closed.length}`);
    for (const c of closed) {
      assert.ok(ipOf(c.conn.remote).startsWith(`${LINKINGLION_PREFIX}.`), c.conn.remote);
      assert.equal(c.handshakeComplete, false);
      assert.equal(c.reason, 'peer-closed');
      assert.ok(c.durationMs < 3000);
    }
    assert.equal(r.of('handshake.complete').length, 0);
    const versions = r.of('handshake.version');
    assert.ok(versions.length >= 8);
    assert.ok(versions.every((v) => v.nonce === '0'));
    assert.ok(new Set(versions.map((v) => v.userAgent)).size >= 5, 'user agents rotate');
    assert.ok(new Set(closed.map((c) => ipOf(c.conn.remote))).size >= 8, 'a new address per connection');
  });

  it('inbound-flooder: many inbound connections from distinct IPs in one /16', async () => {
    const r = await against('inbound-flooder', { durationMs: 1500, peers: 25, rate: 40 });
    const opened = r.of('connection.opened');
    assert.ok(opened.length >= 25, `connections: ${opened.length}`);
    const ips = opened.map((o) => ipOf(o.conn.remote));
    assert.ok(ips.every((ip) => in16(ip, '127.77')));
    assert.equal(new Set(ips).size, ips.length, 'every connection from its own address');
    assert.ok(r.of('handshake.complete').length >= 20);
  });

  it('netgroup-eclipse: connections held open, all from one /16', async () => {
    const r = await against('netgroup-eclipse', { durationMs: 1500, peers: 12, rate: 40 });
    const opened = r.of('connection.opened');
    assert.equal(opened.length, 12, 'ramped up to --peers and held them');
    assert.ok(opened.every((o) => in16(ipOf(o.conn.remote), '127.88')));
    assert.equal(r.of('handshake.complete').length, 12);
    // All held until the end: every close is from the simulation stopping.
    for (const c of r.of('connection.closed')) assert.ok(c.durationMs > 1000 - 12 * 25);
  });

  it('ping-spam: tens of pings per second per peer, odd nonces, unsolicited pongs', async () => {
    const r = await against('ping-spam', { durationMs: 1500, peers: 2, rate: 60 });
    const pings = r.inbound('ping');
    assert.ok(pings.length >= 2 * 60, `pings: ${pings.length}`);
    const nonces = pings.map((p) => (p.payload as { nonce: string }).nonce);
    assert.ok(nonces.includes('0'));
    assert.ok(nonces.filter((n) => n === '4774451407313060418').length > 10, 'one nonce repeated');
    const unsolicited = r.of('violation').filter((v) => v.kind === 'unsolicited-pong');
    assert.ok(unsolicited.length >= 10);
    assert.ok(pings.every((p) => ipOf(p.conn.remote).startsWith('127.31.0.')));
  });

  it('inv-spam: many inv of 5,000 and 50,000 entries', async () => {
    const r = await against('inv-spam', { durationMs: 2000, peers: 1, rate: 10 });
    const inv = r.inbound('inv');
    assert.ok(inv.length >= 10, `inv: ${inv.length}`);
    const counts = inv.map((m) => (m.payload as { count: number }).count);
    assert.ok(counts.includes(5000) && counts.includes(50_000), String(counts));
    assert.equal(r.of('violation').length, 0, 'at Core limits, not over them');
  });

  it('time-offset: version timestamps hours off, both ways', async () => {
    const r = await against('time-offset', { durationMs: 1000, peers: 4 });
    const offsets = r.of('handshake.version').map((v) => v.timeOffsetSec);
    assert.ok(offsets.length >= 4);
    assert.ok(
      offsets.every((o) => Math.abs(o) >= 2 * 3600 - 5 && Math.abs(o) <= 6 * 3600 + 5),
      String(offsets),
    );
    assert.ok(offsets.some((o) => o > 0) && offsets.some((o) => o < 0));
    assert.equal(r.of('handshake.complete').length, offsets.length);
  });

  it('malformed: every violation kind it promises, and unknown commands', async () => {
    const r = await against('malformed', { durationMs: 2500, peers: 1, rate: 100 });
    const kinds = new Set(r.of('violation').map((v) => v.kind));
    for (const k of ['bad-checksum', 'invalid-command', 'malformed-payload', 'oversize', 'bad-magic'] as const) {
      assert.ok(kinds.has(k), `missing ${k}: ${[...kinds].join(', ')}`);
    }
    assert.ok(r.of('message').some((m) => m.command === 'xyzzy' && !m.known));
    assert.ok(r.of('connection.closed').some((c) => c.reason === 'protocol-violation'));
  });

  it('slowloris: bytes trickle, no message completes, handshake timeouts', async () => {
    const r = await against('slowloris', { durationMs: 1500, peers: 5, rate: 20, limits: { handshakeTimeoutMs: 400 } });
    const timeouts = r.of('violation').filter((v) => v.kind === 'handshake-timeout');
    assert.ok(timeouts.length >= 5, `timeouts: ${timeouts.length}`);
    assert.ok(timeouts.every((v) => /no version/.test(v.detail)));
    assert.ok(r.of('connection.closed').filter((c) => c.reason === 'handshake-timeout').length >= 5);
    assert.equal(r.of('message').filter((m) => m.dir === 'in').length, 0, 'no message ever completes');
    assert.ok(r.of('connection.opened').every((o) => in16(ipOf(o.conn.remote), '127.35')));
  });

  it('honest: handshakes, ordinary traffic, no violations', async () => {
    const r = await against('honest', { durationMs: 2000, peers: 3, rate: 4 });
    assert.equal(r.of('handshake.complete').length, 3);
    assert.equal(r.of('violation').length, 0);
    assert.ok(r.of('message').filter((m) => m.dir === 'in').length > 20);
  });
});
