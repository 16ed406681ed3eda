/**
 * The metrics past the basics (docs/metrics.md, "Past the reference"):
 * getpeerinfo aggregates over the rpc source's peer.stats, the node's own
 * figures, blocks and mempool, IP lists, self-announcements, inv mix, old
 * pings, feefilter and reject; every label bounded under 100,000 peers; and
 * `promtool check metrics` accepting the whole exposition.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent } from '../../src/events/types.js';
import type { AsnLookup } from '../../src/http/asn.js';
import { ObserverMetrics } from '../../src/consumers/metrics/metrics.js';
import { reasonText } from '../../src/consumers/metrics/core.js';
import { nodeStatus, peerStats, rpcOrigin, statsEvent } from './core-synthetic.js';
import { origin, peerLife } from './synthetic.js';

function samples(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}
function value(text: string, series: string): number | undefined {
  const line = samples(text).find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** An ASN lookup given by the test: the first octet of the IPv4 address plus 64,000 (a real asmap is exercised in test/http/asmap.test.ts). */
const firstOctetAsn: AsnLookup = {
  source: 'test',
  lookup: (remote) => {
    const m = /^(\d+)\./.exec(remote);
    return m ? 64_000 + Number(m[1]) : null;
  },
};

const T0 = 1_700_000_000_000_000;
const ev = (type: ObserverEvent['type'], data: unknown, src = origin, t = T0): ObserverEvent =>
  makeEvent(src, type, data as never, t) as ObserverEvent;

describe('metrics from Core sources', () => {
  it('aggregates getpeerinfo: types, transports, networks, versions, ASNs, pings, conditions, in-flight blocks, diversity, inv-to-send', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false, asn: firstOctetAsn });
    const rows = [
      peerStats(1, { timeOffsetSec: 11, addrRateLimited: 5, addrProcessed: 100 }, { bip152HbFrom: true, inflightBlocks: [10, 11] }),
      peerStats(2, { timeOffsetSec: -30, version: 99_999 }, { inflightBlocks: [11], pingWaitMs: 6000, minFeeFilterSatPerKvB: 100 }),
      peerStats(3, { pingMs: null, minPingMs: null }, { bip152HbTo: true, mappedAs: 13335 }),
      peerStats(4, {}, { invToSend: 40 }),
      peerStats(5, { conn: { id: 5, direction: 'inbound', remote: '[2001:db8::5]:8333' }, netgroup: '2001:db8::/32' }),
    ];
    for (const r of rows) m.handle(statsEvent(r));
    let text = await m.exposition();
    assert.equal(value(text, 'peer_observer_node_peers{conn_type="inbound",transport="v2",network="ipv4"}'), 2); // 1, 3
    assert.equal(value(text, 'peer_observer_node_peers{conn_type="inbound",transport="v1",network="ipv4"}'), 1); // 2
    assert.equal(value(text, 'peer_observer_node_peers{conn_type="outbound-full-relay",transport="v1",network="ipv4"}'), 1); // 4
    assert.equal(value(text, 'peer_observer_node_peers{conn_type="inbound",transport="v2",network="ipv6"}'), 1); // 5
    assert.equal(value(text, 'peer_observer_node_peers_by_protocol_version{version="70016"}'), 4);
    assert.equal(value(text, 'peer_observer_node_peers_by_protocol_version{version="other"}'), 1);
    // Peer 3's node-mapped AS wins over our lookup; peer 5 (IPv6) is unmapped by ours.
    assert.equal(value(text, 'peer_observer_node_peers_by_asn{asn="AS13335"}'), 1);
    assert.equal(value(text, 'peer_observer_node_peers_by_asn{asn="AS64011"}'), 3);
    assert.equal(value(text, 'peer_observer_node_peers_by_asn{asn="unmapped"}'), 1);
    // pings (ms) of peers 1,2,4,5: 20, 30, 50, 10 → median 25 ms, mean 27.5 ms.
    assert.equal(value(text, 'peer_observer_node_peer_ping_seconds{kind="ping",stat="median"}'), 0.025);
    assert.equal(value(text, 'peer_observer_node_peer_ping_seconds{kind="ping",stat="mean"}'), 0.0275);
    assert.equal(value(text, 'peer_observer_node_peer_ping_seconds{kind="minping",stat="median"}'), 0.0125);
    const flagged = (c: string) => value(text, `peer_observer_node_peers_flagged{condition="${c}"}`);
    assert.equal(flagged('time_offset_ahead_10s'), 1);
    assert.equal(flagged('time_offset_behind_10s'), 1);
    assert.equal(flagged('addr_rate_limited'), 1);
    assert.equal(flagged('addr_relay_enabled'), 5);
    assert.equal(flagged('bip152_hb_to'), 1);
    assert.equal(flagged('bip152_hb_from'), 1);
    assert.equal(flagged('blocks_in_flight'), 2);
    assert.equal(flagged('ping_wait_over_5s'), 1);
    assert.equal(flagged('feefilter_below_1satvb'), 1);
    assert.equal(value(text, 'peer_observer_node_blocks_in_flight'), 2, 'heights 10 and 11, 11 asked of two peers');
    assert.equal(value(text, 'peer_observer_node_peer_addr{kind="processed"}'), 140);
    assert.equal(value(text, 'peer_observer_node_peer_addr{kind="rate_limited"}'), 5);
    // Inbound IPv4: peers 1, 2, 3 in /16s 11.0, 11.0, 11.0 → 1 group over 3 peers.
    assert.equal(value(text, 'peer_observer_node_inbound_ipv4_netgroup_diversity'), 1 / 3);
    // inv_to_send: 1, 2, 0, 40, 2.
    assert.equal(value(text, 'peer_observer_node_peer_inv_to_send{stat="sum"}'), 45);
    assert.equal(value(text, 'peer_observer_node_peer_inv_to_send{stat="max"}'), 40);
    assert.equal(value(text, 'peer_observer_node_peer_inv_to_send{stat="median"}'), 2);
    assert.equal(value(text, 'peer_observer_node_peer_inv_to_send{stat="min"}'), 0);
    assert.equal(value(text, 'peer_observer_node_peer_cpu_load{stat="sum"}'), undefined, 'this node does not report cpu_load');
    // The rpc source says peer 4 is gone; peer 5 is not mentioned for 5 minutes: both forgotten.
    m.handle(
      ev(
        'connection.closed',
        {
          conn: rows[3]!.conn,
          network: 'mainnet',
          netgroup: '',
          reason: 'unknown',
          detail: '',
          durationMs: 1,
          handshakeComplete: true,
          bytesIn: 0,
          bytesOut: 0,
          messagesIn: 0,
          messagesOut: 0,
        },
        rpcOrigin,
      ),
    );
    for (const r of rows.slice(0, 3)) m.handle(statsEvent(r, T0 + 301e6));
    text = await m.exposition();
    assert.equal(value(text, 'peer_observer_node_tracked_peers{state="tracked"}'), 3);
    assert.equal(value(text, 'peer_observer_node_peer_inv_to_send{stat="max"}'), 2);
  });

  it("exports the node's own figures: uptime, net totals, mempool, fee rates, locked memory, orphanage, addrman by network and age", async () => {
    const m = new ObserverMetrics({ defaultMetrics: false });
    let text = await m.exposition();
    // prom-client always shows an unlabelled gauge: 0 until the first node.status, which the timestamp tells apart.
    assert.equal(value(text, 'peer_observer_node_status_timestamp_seconds'), 0);
    assert.equal(value(text, 'peer_observer_node_uptime_seconds'), 0);
    m.handle(ev('node.status', nodeStatus(), rpcOrigin));
    text = await m.exposition();
    const expect: [string, number][] = [
      ['peer_observer_node_uptime_seconds', 3600],
      ['peer_observer_node_status_timestamp_seconds', T0 / 1e6],
      ['peer_observer_node_blocks', 900_000],
      ['peer_observer_node_headers', 900_001],
      ['peer_observer_node_initial_block_download', 0],
      ['peer_observer_node_stale_tips', 1],
      ['peer_observer_node_banned', 2],
      ['peer_observer_node_connections{direction="inbound"}', 4],
      ['peer_observer_node_network_bytes{dir="in"}', 123456],
      ['peer_observer_node_network_bytes{dir="out"}', 654321],
      ['peer_observer_node_mempool_transactions', 42],
      ['peer_observer_node_mempool_vbytes', 10_000],
      ['peer_observer_node_mempool_usage_bytes', 50_000],
      ['peer_observer_node_mempool_max_bytes', 300_000_000],
      ['peer_observer_node_mempool_fees_btc', 0.5],
      ['peer_observer_node_mempool_loaded', 1],
      ['peer_observer_node_feerate_btc_per_kvb{kind="mempool_min"}', 0.00001],
      ['peer_observer_node_feerate_btc_per_kvb{kind="min_relay"}', 0.000001],
      ['peer_observer_node_memory_locked_bytes{kind="used"}', 384],
      ['peer_observer_node_memory_locked_bytes{kind="locked"}', 262144],
      ['peer_observer_node_memory_locked_chunks{state="free"}', 2],
      ['peer_observer_node_orphan_transactions', 3],
      ['peer_observer_node_orphan_bytes', 900],
      ['peer_observer_node_addrman_addresses{table="new",network="ipv4"}', 90],
      ['peer_observer_node_addrman_addresses{table="tried",network="onion"}', 5],
      ['peer_observer_node_addrman_entries_by_age{table="new",age="future"}', 2],
      ['peer_observer_node_addrman_entries_by_age{table="tried",age="month"}', 5],
      ['peer_observer_node_addrman_max_future_seconds', 7200],
    ];
    for (const [series, v] of expect) assert.equal(value(text, series), v, series);
  });

  it('counts blocks connected and mempool activity, reasons cut to their code', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false });
    const usdt = { nodeId: 'test-node', source: 'usdt' };
    m.handle(ev('block.connected', { hash: 'aa'.repeat(32), height: 101, transactions: 3, inputs: 4, sigops: 8, durationMs: 250 }, usdt));
    m.handle(
      ev('block.connected', { hash: 'bb'.repeat(32), height: 102, transactions: 1, inputs: null, sigops: null, durationMs: null }, usdt),
    );
    const tx = (action: string, reason: string | null, vsize: number | null) =>
      ev('mempool.tx', { action, txid: 'cc'.repeat(32), wtxid: null, vsize, feeSat: null, reason, peerId: null, replacedBy: null }, usdt);
    m.handle(tx('accepted', null, 200));
    m.handle(tx('accepted', null, 100));
    m.handle(tx('rejected', 'mempool-min-fee-not-met, 100 < 200', null));
    m.handle(tx('rejected', 'min relay fee not met', null));
    m.handle(tx('removed', 'block', 150));
    m.handle(tx('replaced', null, 120));
    const text = await m.exposition();
    assert.equal(value(text, 'peer_observer_blocks_connected_total{source="usdt"}'), 2);
    assert.equal(value(text, 'peer_observer_block_connect_seconds_total{source="usdt"}'), 0.25);
    assert.equal(value(text, 'peer_observer_block_connected_latest{field="height"}'), 102);
    assert.equal(value(text, 'peer_observer_block_connected_latest{field="transactions"}'), 1);
    assert.equal(value(text, 'peer_observer_block_connected_latest{field="sigops"}'), 8, 'kept from the block that said');
    assert.equal(value(text, 'peer_observer_mempool_transactions_total{action="accepted",reason="none"}'), 2);
    assert.equal(value(text, 'peer_observer_mempool_transactions_total{action="rejected",reason="mempool-min-fee-not-met"}'), 1);
    assert.equal(value(text, 'peer_observer_mempool_transactions_total{action="rejected",reason="other"}'), 1, 'free text is not a label');
    assert.equal(value(text, 'peer_observer_mempool_transactions_total{action="removed",reason="block"}'), 1);
    assert.equal(value(text, 'peer_observer_mempool_vbytes_total{action="accepted"}'), 300);
    assert.equal(value(text, 'peer_observer_mempool_vbytes_total{action="replaced"}'), 120);
    assert.equal(reasonText(null), 'unknown');
    assert.equal(reasonText('txn-mempool-conflict'), 'txn-mempool-conflict');
  });

  it('counts IP-list traffic, self- and subnet-announcements, inv mix, large outbound invs, old pings, feefilter, reject', async () => {
    const m = new ObserverMetrics({
      defaultMetrics: false,
      ipLists: [
        { name: 'linkinglion', cidrs: ['162.218.65.0/24'] },
        { name: 'tor-exit', cidrs: ['198.51.100.7'] },
      ],
    });
    const ll = { id: 1, direction: 'inbound' as const, remote: '162.218.65.9:8333' };
    const honest = { id: 2, direction: 'inbound' as const, remote: '11.2.3.4:8333' };
    const opened = (conn: typeof ll, netgroup: string) =>
      ev('connection.opened', { conn, local: '', network: 'mainnet', netgroup, transport: 'v1' });
    const msg = (conn: typeof ll, dir: string, command: string, size: number, payload: unknown) =>
      ev('message', { conn, dir, command, size, known: true, payload });
    m.handle(opened(ll, '162.218.0.0/16'));
    m.handle(opened(honest, '11.2.0.0/16'));
    m.handle(msg(ll, 'in', 'version', 100, {}));
    m.handle(msg(ll, 'out', 'version', 102, {}));
    m.handle(msg(honest, 'in', 'version', 100, {}));
    const entry = (addr: string) => ({ time: 1_700_000_000, services: '1', network: 'ipv4', addr, port: 8333 });
    m.handle(msg(honest, 'in', 'addrv2', 30, { count: 3, entries: [entry('11.2.3.4'), entry('11.2.200.1'), entry('12.0.0.1')] }));
    m.handle(msg(honest, 'in', 'inv', 73, { count: 2, types: { wtx: 1, block: 1 }, items: [] }));
    m.handle(msg(honest, 'in', 'inv', 37, { count: 1, types: { wtx: 1 }, items: [] }));
    m.handle(msg(honest, 'out', 'inv', 1801, { count: 50, types: { wtx: 50 }, items: [] }));
    m.handle(msg(honest, 'out', 'inv', 1081, { count: 30, types: { wtx: 30 }, items: [] }));
    m.handle(msg(honest, 'in', 'ping', 0, { error: 'short' }));
    m.handle(msg(honest, 'in', 'ping', 8, { nonce: '5' }));
    m.handle(msg(honest, 'in', 'feefilter', 8, { feeRate: '1000' }));
    m.handle(msg(honest, 'out', 'feefilter', 8, { feeRate: '200' }));
    m.handle(msg(honest, 'in', 'reject', 40, { message: 'tx', code: 0x42, reason: 'insufficient fee', data: null }));
    m.handle(msg(honest, 'in', 'reject', 40, { message: 'zzz', code: 7, reason: '', data: null }));
    let text = await m.exposition();
    assert.equal(value(text, 'peer_observer_list_connections_total{list="linkinglion",direction="inbound"}'), 1);
    assert.equal(value(text, 'peer_observer_list_connections{list="linkinglion"}'), 1);
    assert.equal(value(text, 'peer_observer_list_connections{list="tor-exit"}'), 0);
    assert.equal(value(text, 'peer_observer_list_messages_total{list="linkinglion",dir="in"}'), 1);
    assert.equal(value(text, 'peer_observer_list_message_bytes_total{list="linkinglion",dir="out"}'), 102);
    assert.equal(value(text, 'peer_observer_addr_self_announcements_total{command="addrv2",kind="self"}'), 1);
    assert.equal(value(text, 'peer_observer_addr_self_announcements_total{command="addrv2",kind="subnet"}'), 1);
    assert.equal(value(text, 'peer_observer_inv_messages_by_mix_total{command="inv",dir="in",mix="heterogeneous"}'), 1);
    assert.equal(value(text, 'peer_observer_inv_messages_by_mix_total{command="inv",dir="in",mix="homogeneous"}'), 1);
    assert.equal(value(text, 'peer_observer_inv_outbound_large_total'), 1);
    assert.equal(value(text, 'peer_observer_old_pings_total{netgroup="11.2.0.0/16"}'), 1);
    assert.equal(value(text, 'peer_observer_feefilter_rate_sat_per_kvb_count{dir="in"}'), 1);
    assert.equal(value(text, 'peer_observer_feefilter_rate_sat_per_kvb_bucket{le="999",dir="out"}'), 1);
    assert.equal(value(text, 'peer_observer_reject_messages_total{message="tx",code="insufficientfee"}'), 1);
    assert.equal(value(text, 'peer_observer_reject_messages_total{message="other",code="other"}'), 1);
    m.handle(
      ev('connection.closed', {
        conn: ll,
        network: 'mainnet',
        netgroup: '',
        reason: 'peer-closed',
        detail: '',
        durationMs: 1,
        handshakeComplete: false,
        bytesIn: 0,
        bytesOut: 0,
        messagesIn: 0,
        messagesOut: 0,
      }),
    );
    text = await m.exposition();
    assert.equal(value(text, 'peer_observer_list_connections{list="linkinglion"}'), 0);
  });

  it('peers by ASN for our own connections, from our lookup, top 20 and the rest as other', async () => {
    const m = new ObserverMetrics({ defaultMetrics: false, asn: firstOctetAsn });
    for (let i = 0; i < 30; i++)
      m.handle(
        ev('connection.opened', {
          conn: { id: i, direction: 'inbound', remote: `${10 + i}.1.1.1:8333` },
          local: '',
          network: 'mainnet',
          netgroup: '',
          transport: 'v1',
        }),
      );
    for (let i = 0; i < 3; i++)
      m.handle(
        ev('connection.opened', {
          conn: { id: 100 + i, direction: 'inbound', remote: `10.9.9.${i}:8333` },
          local: '',
          network: 'mainnet',
          netgroup: '',
          transport: 'v1',
        }),
      );
    m.handle(
      ev('connection.opened', {
        conn: { id: 200, direction: 'inbound', remote: 'abcdefghijklmnop.onion:8333' },
        local: '',
        network: 'mainnet',
        netgroup: '',
        transport: 'v1',
      }),
    );
    const text = await m.exposition();
    assert.equal(value(text, 'peer_observer_peers_by_asn{asn="AS64010"}'), 4);
    assert.equal(value(text, 'peer_observer_peers_by_asn{asn="unmapped"}'), 1);
    const rows = samples(text).filter((l) => l.startsWith('peer_observer_peers_by_asn{'));
    assert.equal(rows.length, 22, '20 ASNs, other, unmapped');
    assert.equal(value(text, 'peer_observer_peers_by_asn{asn="other"}'), 10);
  });

  it('label cardinality stays bounded while 100,000 Core peers with hostile versions, ASNs and lists come and go', async () => {
    const m = new ObserverMetrics({
      defaultMetrics: false,
      asn: { source: 't', lookup: (r) => 1 + Number(/\.(\d+):/.exec(r)?.[1] ?? 0) * 997 },
    });
    const count = async () => samples(await m.exposition()).length;
    const life = (i: number): ObserverEvent[] => {
      const s = peerStats(
        i,
        { version: i, connType: `type-${i}`, timeOffsetSec: (i % 41) - 20 },
        { mappedAs: i % 2 ? i : null, invToSend: i, inflightBlocks: [i] },
      );
      const conn = s.conn;
      return [
        ...peerLife(i).slice(0, -1),
        statsEvent(s, T0 + i),
        ev('message', { conn, dir: 'in', command: 'ping', size: 0, known: false, payload: {} }),
        ev('message', {
          conn,
          dir: 'in',
          command: 'reject',
          size: 9,
          known: true,
          payload: { message: `m${i}`, code: i % 256, reason: `r${i}`, data: null },
        }),
        ev(
          'mempool.tx',
          {
            action: 'rejected',
            txid: 'cc'.repeat(32),
            wtxid: null,
            vsize: 1,
            feeSat: null,
            reason: `reason-${i}`,
            peerId: i,
            replacedBy: null,
          },
          rpcOrigin,
        ),
        ev(
          'connection.closed',
          {
            conn,
            network: 'mainnet',
            netgroup: s.netgroup,
            reason: 'unknown',
            detail: '',
            durationMs: 1,
            handshakeComplete: true,
            bytesIn: 0,
            bytesOut: 0,
            messagesIn: 0,
            messagesOut: 0,
          },
          rpcOrigin,
        ),
        peerLife(i).at(-1)!,
      ];
    };
    for (let i = 0; i < 100; i++) for (const e of life(i)) m.handle(e);
    const before = await count();
    let peak = before;
    const open: ObserverEvent[][] = [];
    for (let i = 100; i < 100_100; i++) {
      const l = life(i);
      for (const e of l.slice(0, -2)) m.handle(e);
      open.push(l);
      if (open.length > 500) for (const e of open.shift()!.slice(-2)) m.handle(e);
      if (i % 25_000 === 0) peak = Math.max(peak, await count());
    }
    peak = Math.max(peak, await count());
    for (const l of open) for (const e of l.slice(-2)) m.handle(e);
    const after = await count();
    assert.ok(peak < 1200, `series peaked at ${peak}`);
    assert.ok(after <= before + 150, `series grew from ${before} to ${after}`);
  });

  it('promtool check metrics accepts the exposition with every family populated', async (t) => {
    if (spawnSync('promtool', ['--version']).error) return t.skip('promtool not installed (apt-get install prometheus)');
    const m = new ObserverMetrics({ asn: firstOctetAsn });
    for (let i = 0; i < 20; i++) for (const e of peerLife(i)) m.handle(e);
    for (let i = 0; i < 20; i++) m.handle(statsEvent(peerStats(i, {}, { cpuLoad: 0.01 * i })));
    m.handle(ev('node.status', nodeStatus(), rpcOrigin));
    m.handle(ev('block.connected', { hash: 'aa'.repeat(32), height: 1, transactions: 1, inputs: 1, sigops: 1, durationMs: 1 }, rpcOrigin));
    m.handle(
      ev(
        'addr.received',
        { conn: { id: 1, direction: 'inbound', remote: '1.2.3.4:8333' }, addresses: 10, processed: 8, rateLimited: 2 },
        rpcOrigin,
      ),
    );
    const text = await m.exposition();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });
});
