/**
 * The metrics consumer: what each event does to the exposition, the bounded
 * label sets (100,000 distinct peers and user agents come and go, the number of
 * series stays fixed), and `promtool check metrics` accepting the exposition.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { makeEvent } from '../../src/events/envelope.js';
import { ObserverMetrics, startMetrics } from '../../src/consumers/metrics/metrics.js';
import { origin, peerLife } from './synthetic.js';

/** Sample lines (not comments) of an exposition. */
function samples(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

function value(text: string, series: string): number | undefined {
  const line = samples(text).find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics consumer', () => {
  it('counts messages, bytes, connections, addr, inv, services, pings, violations by bounded labels', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false });
    const life = peerLife(1, { userAgent: '/Satoshi:27.1.0/' });
    const closeAt = life.findIndex((e) => e.type === 'connection.closed');
    for (const e of life.slice(0, closeAt)) m.handle(e);
    let text = await m.exposition();
    assert.equal(value(text, 'peer_observer_connections{direction="inbound",network="ipv4"}'), 1);
    assert.equal(value(text, 'peer_observer_peers_by_user_agent{user_agent="/Satoshi:27.1.0/"}'), 1);
    assert.equal(value(text, 'peer_observer_messages_total{command="addrv2",dir="in",conn_direction="inbound"}'), 1);
    assert.equal(value(text, 'peer_observer_message_bytes_total{command="inv",dir="in",conn_direction="inbound"}'), 73);
    // An unknown command is "other", never its own label.
    assert.equal(value(text, 'peer_observer_messages_total{command="other",dir="in",conn_direction="inbound"}'), 1);
    assert.ok(!text.includes('zz1'));
    assert.equal(value(text, 'peer_observer_addr_entries_total{command="addrv2",network="ipv4"}'), 1);
    assert.equal(value(text, 'peer_observer_addr_entries_total{command="addrv2",network="ipv6"}'), 1);
    assert.equal(value(text, 'peer_observer_addr_entries_count{command="addrv2"}'), 1);
    // One entry 60 s old, one an hour ahead: the bucket at 600 s holds only the first.
    assert.equal(value(text, 'peer_observer_addr_timestamp_offset_seconds_bucket{le="600",command="addrv2"}'), 1);
    assert.equal(value(text, 'peer_observer_addr_timestamp_offset_seconds_count{command="addrv2"}'), 2);
    assert.equal(value(text, 'peer_observer_service_flags_total{flag="NODE_WITNESS",source="version"}'), 1);
    assert.equal(value(text, 'peer_observer_service_flags_total{flag="NODE_WITNESS",source="addr"}'), 1);
    assert.equal(value(text, 'peer_observer_service_flags_total{flag="unknown",source="addr"}'), 1);
    assert.equal(value(text, 'peer_observer_inv_entries_total{command="inv",type="wtx",dir="in"}'), 1);
    assert.equal(value(text, 'peer_observer_ping_latency_seconds_count'), 1);
    assert.equal(value(text, 'peer_observer_violations_total{kind="unsolicited-pong",action="none"}'), 1);
    assert.equal(value(text, 'peer_observer_handshakes_total{direction="inbound"}'), 1);

    m.handle(life[closeAt]!);
    m.handle(makeEvent(origin, 'pipeline.counters', { stage: 'bus', counters: { dropped: 3, queued: 1 } }));
    const alert = {
      id: 'a1',
      detector: 'addr-flood',
      severity: 'warning' as const,
      subject: { kind: 'peer' as const, id: '1.2.3.4' },
      summary: 's',
      firstSeenUs: 1,
      lastSeenUs: 1,
      status: 'active' as const,
      nodeIds: ['test-node'],
      count: 1,
      evidence: { counts: {}, samples: [] },
      incidentId: 'i1',
    };
    m.handle(makeEvent(origin, 'alert', alert));
    m.handle(makeEvent(origin, 'alert', { ...alert, count: 2 }));
    text = await m.exposition();
    assert.equal(value(text, 'peer_observer_alerts_total{detector="addr-flood",severity="warning"}'), 1);
    assert.equal(value(text, 'peer_observer_alerts_active{detector="addr-flood",severity="warning"}'), 1);
    m.handle(makeEvent(origin, 'alert', { ...alert, status: 'resolved' }));
    text = await m.exposition();
    assert.equal(value(text, 'peer_observer_alerts_resolved_total{detector="addr-flood"}'), 1);
    assert.equal(value(text, 'peer_observer_alerts_active{detector="addr-flood",severity="warning"}'), undefined);
    assert.equal(value(text, 'peer_observer_connections{direction="inbound",network="ipv4"}'), undefined);
    assert.equal(value(text, 'peer_observer_connections_closed_total{direction="inbound",network="ipv4",reason="peer-closed"}'), 1);
    assert.equal(value(text, 'peer_observer_connection_duration_seconds_count{direction="inbound"}'), 1);
    assert.equal(value(text, 'peer_observer_pipeline_stage_value{stage="bus",name="dropped"}'), 3);
  });

  it("counts evictions by rule: ours (inbound-full, handshake-slots) and Core's (usdt, no rule)", async () => {
    const m = new ObserverMetrics({ defaultMetrics: false });
    const closed = (id: number, evictedFor?: 'inbound-full' | 'handshake-slots') =>
      makeEvent(origin, 'connection.closed', {
        conn: { id, direction: 'inbound', remote: `127.5.0.${id}:1000` },
        network: 'regtest',
        netgroup: 'local',
        reason: 'evicted',
        detail: 'test',
        durationMs: 1,
        handshakeComplete: false,
        bytesIn: 0,
        bytesOut: 0,
        messagesIn: 0,
        messagesOut: 0,
        ...(evictedFor ? { evictedFor } : {}),
      });
    m.handle(closed(1, 'inbound-full'));
    m.handle(closed(2, 'inbound-full'));
    m.handle(closed(3, 'handshake-slots'));
    m.handle(closed(4));
    const text = await m.exposition();
    assert.equal(value(text, 'peer_observer_evictions_total{rule="inbound-full"}'), 2);
    assert.equal(value(text, 'peer_observer_evictions_total{rule="handshake-slots"}'), 1);
    assert.equal(value(text, 'peer_observer_evictions_total{rule="core"}'), 1);
  });

  it('keeps a user agent a peer chose printable and short, and the top N by name with the rest as other', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false, topUserAgents: 2 });
    const uas = ['/a/', '/a/', '/a/', '/b/', '/b/', '/c/', '/"x\n\u0007' + 'y'.repeat(200)];
    uas.forEach((ua, i) =>
      peerLife(i, { userAgent: ua })
        .slice(0, 2)
        .forEach((e) => m.handle(e)),
    );
    const text = await m.exposition();
    assert.equal(value(text, 'peer_observer_peers_by_user_agent{user_agent="/a/"}'), 3);
    assert.equal(value(text, 'peer_observer_peers_by_user_agent{user_agent="/b/"}'), 2);
    assert.equal(value(text, 'peer_observer_peers_by_user_agent{user_agent="other"}'), 2);
    assert.ok(!text.includes('yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'));
  });

  it('label cardinality stays bounded while 100,000 distinct peers and user agents come and go', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false });
    const count = async () => samples(await m.exposition()).length;
    // Warm up with a few peers so every family has its series, then feed 100,000 more.
    for (let i = 0; i < 100; i++) for (const e of peerLife(i)) m.handle(e);
    const before = await count();
    let peak = before;
    const open: ObserverEvent[][] = [];
    for (let i = 100; i < 100_100; i++) {
      const life = peerLife(i, { direction: i % 3 === 0 ? 'outbound' : 'inbound' });
      // Keep up to 500 connections open at once, so the user agent gauge sees many at a time.
      for (const e of life.slice(0, -1)) m.handle(e);
      open.push(life);
      if (open.length > 500) m.handle(open.shift()!.at(-1)!);
      if (i % 20_000 === 0) peak = Math.max(peak, await count());
    }
    peak = Math.max(peak, await count());
    for (const life of open) m.handle(life.at(-1)!);
    const after = await count();
    // Fixed by the code, not by the peers: a few hundred series at most.
    assert.ok(peak < 600, `series peaked at ${peak}`);
    assert.ok(after <= before + 30, `series grew from ${before} to ${after}`);
    const text = await m.exposition();
    assert.ok(!/\d+\.\d+\.\d+\.\d+:8333/.test(text), 'no address in any label');
  });

  it('promtool check metrics accepts the exposition', async (t) => {
    if (spawnSync('promtool', ['--version']).error) return t.skip('promtool not installed (apt-get install prometheus)');
    const m = new ObserverMetrics();
    for (let i = 0; i < 50; i++) for (const e of peerLife(i)) m.handle(e);
    m.handle(makeEvent(origin, 'pipeline.counters', { stage: 'p2p.observer', counters: { framesIn: 10 } }));
    const text = await m.exposition();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });

  it('runs over a bus subscription that asks only for the types it reads', async () => {
    const bus = new EmbeddedBus();
    const consumer = startMetrics(bus, { defaultMetrics: false });
    for (const e of peerLife(7)) bus.publish(e);
    bus.publish(makeEvent(origin, 'rpc.status', { state: 'up', url: 'x', detail: 'ok', failures: 0, retryMs: 0, unsupported: [] }));
    await bus.close();
    await consumer.done;
    const stats = bus.stats();
    assert.equal(stats.delivered, peerLife(7).length, 'rpc.status was never delivered to the metrics');
    const text = await consumer.metrics.exposition();
    assert.equal(value(text, 'peer_observer_events_total{type="message"}'), 5);
    assert.equal(value(text, 'peer_observer_consumer_dropped_events{consumer="metrics"}'), 0);
  });
});

type ObserverEvent = ReturnType<typeof peerLife>[number];
