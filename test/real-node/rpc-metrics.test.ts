/**
 * The RPC-derived metrics against a real Bitcoin Core: the rpc source polls a
 * real bitcoind (with one real peer, another bitcoind), the metrics consumer
 * turns its events into gauges, and each gauge is compared with the node's own
 * RPC answer (getpeerinfo, getmemoryinfo, getaddrmaninfo, getrawaddrman,
 * getorphantxs, getmempoolinfo, getnettotals, uptime, getblockchaininfo), with
 * an orphan and a future-dated address sent to it over P2P by our simulator.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ObserverMetrics } from '../../src/consumers/metrics/metrics.js';
import { msg } from '../../src/protocol/messages/index.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { handshake, randomTx, SimPeer } from '../../src/simulate/kit.js';
import { startRpcSource } from '../../src/sources/rpc/source.js';
import { bitcoindSkipReason, startBitcoind } from '../helpers/bitcoind.js';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('RPC metrics against a real bitcoind', { skip: bitcoindSkipReason(), timeout: 120_000 }, () => {
  it("every RPC-derived gauge equals the node's own answer", async () => {
    const node = await startBitcoind();
    const peer = await startBitcoind();
    try {
      await node.mine(3);
      await node.rpc('addpeeraddress', '11.22.33.44', 8333);
      await node.rpc('addpeeraddress', '55.66.77.88', 8333, true);
      await node.rpc('addpeeraddress', '2a01:4f8:1:2::7', 8333);
      await peer.rpc('addnode', `127.0.0.1:${node.port}`, 'onetry');
      await node.waitForPeers((p) => p.length === 1 && p[0]!.version > 0, 'the peer bitcoind handshaken');
      // Over P2P: a transaction spending outputs the node has never seen (an orphan, kept while its sender stays
      // connected: Core erases a peer's orphans when it goes), and an address dated an hour in the future, which
      // Core stores as 5 days old (ProcessMessage ADDR: a time more than 10 minutes ahead becomes now - 5 days),
      // so it lands in the week bucket.
      const sim = await SimPeer.open({ network: NETWORKS.regtest, host: '127.0.0.1', port: node.port });
      assert.ok(await handshake(sim), 'our simulated peer handshaken with the node');
      sim.send(msg('tx', randomTx()));
      const now = Math.floor(Date.now() / 1000);
      sim.send(
        msg('addrv2', {
          entries: [{ time: now + 3600, services: 9n, networkId: 1, addr: new Uint8Array([99, 88, 77, 66]), port: 8333 }],
        }),
      );
      const settled = Date.now() + 10_000;
      while (Date.now() < settled) {
        const orphans = await node.rpc<unknown[]>('getorphantxs');
        const info = await node.rpc<{ all_networks: { new: number } }>('getaddrmaninfo');
        if (orphans.length === 1 && info.all_networks.new === 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const totalsBefore = await node.rpc<{ totalbytesrecv: number; totalbytessent: number }>('getnettotals');
      const uptimeBefore = await node.rpc<number>('uptime');

      const metrics = new ObserverMetrics({ defaultMetrics: false });
      const source = startRpcSource({
        url: node.rpcUrl,
        auth: { kind: 'cookie', file: node.cookieFile },
        nodeId: 'real',
        network: 'regtest',
        publish: (e) => metrics.handle(e),
        peersIntervalMs: 100,
        statusIntervalMs: 60_000,
      });
      let text = '';
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        text = await metrics.exposition();
        if (
          (value(text, 'peer_observer_node_status_timestamp_seconds') ?? 0) > 0 &&
          value(text, 'peer_observer_node_tracked_peers{state="tracked"}') === 2
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await source.stop();
      text = await metrics.exposition();
      assert.ok((value(text, 'peer_observer_node_status_timestamp_seconds') ?? 0) > 0, 'a node.status arrived');

      // What the node says now (the node-wide poll ran once, after the setup above; nothing has changed since but traffic and time).
      const peers = await node.peers();
      assert.equal(peers.length, 2, 'the peer bitcoind and our simulated peer');
      const byTypeTransport = new Map<string, number>();
      for (const p of peers) {
        const k = `conn_type="${p.connection_type}",transport="${p.transport_protocol_type}"`;
        byTypeTransport.set(k, (byTypeTransport.get(k) ?? 0) + 1);
      }
      for (const [k, n] of byTypeTransport) assert.equal(value(text, `peer_observer_node_peers{${k},network="ipv4"}`), n, k);
      assert.equal(
        value(text, 'peer_observer_node_peers_by_protocol_version{version="70016"}'),
        peers.filter((p) => p.version === 70016).length,
      );
      assert.equal(value(text, 'peer_observer_node_peers_by_asn{asn="unmapped"}'), 2, 'no -asmap on the node, no lookup here');
      const sum = (f: (p: (typeof peers)[number]) => number) => peers.reduce((a, p) => a + f(p), 0);
      assert.equal(
        value(text, 'peer_observer_node_peer_inv_to_send{stat="sum"}'),
        sum((p) => p.inv_to_send as number),
      );
      assert.equal(
        value(text, 'peer_observer_node_peers_flagged{condition="addr_relay_enabled"}'),
        sum((p) => Number(p.addr_relay_enabled)),
      );
      assert.equal(
        value(text, 'peer_observer_node_peers_flagged{condition="bip152_hb_from"}'),
        sum((p) => Number(p.bip152_hb_from)),
      );
      assert.equal(
        value(text, 'peer_observer_node_peers_flagged{condition="feefilter_below_1satvb"}'),
        sum((p) => Number(Math.round((p.minfeefilter as number) * 1e8) < 1000)),
      );
      assert.equal(
        value(text, 'peer_observer_node_peer_addr{kind="processed"}'),
        sum((p) => p.addr_processed),
      );
      assert.equal(
        value(text, 'peer_observer_node_peer_addr{kind="rate_limited"}'),
        sum((p) => p.addr_rate_limited),
      );
      assert.equal(value(text, 'peer_observer_node_blocks_in_flight'), new Set(peers.flatMap((p) => p.inflight as number[])).size);

      const memory = await node.rpc<{ locked: Record<string, number> }>('getmemoryinfo');
      for (const kind of ['used', 'free', 'total', 'locked']) {
        assert.equal(value(text, `peer_observer_node_memory_locked_bytes{kind="${kind}"}`), memory.locked[kind], `locked ${kind}`);
      }
      assert.equal(value(text, 'peer_observer_node_memory_locked_chunks{state="used"}'), memory.locked.chunks_used);
      assert.equal(value(text, 'peer_observer_node_memory_locked_chunks{state="free"}'), memory.locked.chunks_free);

      const addrman = await node.rpc<Record<string, { new: number; tried: number }>>('getaddrmaninfo');
      for (const net of ['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns']) {
        assert.equal(value(text, `peer_observer_node_addrman_addresses{table="new",network="${net}"}`), addrman[net]!.new, `${net} new`);
        assert.equal(
          value(text, `peer_observer_node_addrman_addresses{table="tried",network="${net}"}`),
          addrman[net]!.tried,
          `${net} tried`,
        );
      }
      assert.equal(addrman.all_networks!.new, 3);
      assert.equal(addrman.all_networks!.tried, 1);
      // Every getrawaddrman entry falls in one age bucket: the buckets of a table sum to its size; the entries are fresh.
      const raw = await node.rpc<{ new: Record<string, unknown>; tried: Record<string, unknown> }>('getrawaddrman');
      for (const table of ['new', 'tried'] as const) {
        let sum = 0;
        for (const age of ['future', 'hour', 'day', 'week', 'month', 'older'])
          sum += value(text, `peer_observer_node_addrman_entries_by_age{table="${table}",age="${age}"}`)!;
        assert.equal(sum, Object.keys(raw[table]).length, `${table} buckets`);
      }
      assert.equal(value(text, 'peer_observer_node_addrman_entries_by_age{table="new",age="hour"}'), 2, 'the two added by RPC');
      assert.equal(
        value(text, 'peer_observer_node_addrman_entries_by_age{table="new",age="week"}'),
        1,
        'the future-dated one, as Core stored it',
      );
      assert.equal(value(text, 'peer_observer_node_addrman_entries_by_age{table="tried",age="hour"}'), 1);
      assert.equal(value(text, 'peer_observer_node_addrman_max_future_seconds'), 0);

      const orphans = await node.rpc<{ bytes: number }[]>('getorphantxs', 1);
      assert.equal(orphans.length, 1, 'the orphan we sent');
      assert.equal(value(text, 'peer_observer_node_orphan_transactions'), 1);
      assert.equal(value(text, 'peer_observer_node_orphan_bytes'), orphans[0]!.bytes);
      const mempool = await node.rpc<{
        size: number;
        bytes: number;
        usage: number;
        maxmempool: number;
        minrelaytxfee: number;
        incrementalrelayfee: number;
        mempoolminfee: number;
        loaded: boolean;
      }>('getmempoolinfo');
      assert.equal(value(text, 'peer_observer_node_mempool_transactions'), mempool.size);
      assert.equal(value(text, 'peer_observer_node_mempool_vbytes'), mempool.bytes);
      assert.equal(value(text, 'peer_observer_node_mempool_max_bytes'), mempool.maxmempool);
      assert.equal(value(text, 'peer_observer_node_mempool_loaded'), mempool.loaded ? 1 : 0);
      assert.equal(value(text, 'peer_observer_node_feerate_btc_per_kvb{kind="min_relay"}'), mempool.minrelaytxfee);
      assert.equal(value(text, 'peer_observer_node_feerate_btc_per_kvb{kind="incremental_relay"}'), mempool.incrementalrelayfee);
      assert.equal(value(text, 'peer_observer_node_feerate_btc_per_kvb{kind="mempool_min"}'), mempool.mempoolminfee);
      assert.equal(value(text, 'peer_observer_node_blocks'), await node.rpc<number>('getblockcount'));

      // Counters that move between our poll and our check: between the answers before and after.
      const totalsAfter = await node.rpc<{ totalbytesrecv: number; totalbytessent: number }>('getnettotals');
      const inBytes = value(text, 'peer_observer_node_network_bytes{dir="in"}')!;
      assert.ok(
        inBytes >= totalsBefore.totalbytesrecv && inBytes <= totalsAfter.totalbytesrecv,
        `${totalsBefore.totalbytesrecv} <= ${inBytes} <= ${totalsAfter.totalbytesrecv}`,
      );
      const outBytes = value(text, 'peer_observer_node_network_bytes{dir="out"}')!;
      assert.ok(outBytes >= totalsBefore.totalbytessent && outBytes <= totalsAfter.totalbytessent);
      const uptime = value(text, 'peer_observer_node_uptime_seconds')!;
      assert.ok(uptime >= uptimeBefore && uptime <= (await node.rpc<number>('uptime')));
      await sim.close();

      // The exposition built from a real node's answers passes promtool's lint.
      if (!spawnSync('promtool', ['--version']).error) {
        const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
      }
    } finally {
      await peer.stop();
      await node.stop();
    }
  });
});
