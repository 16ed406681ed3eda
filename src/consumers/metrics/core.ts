/**
 * Metrics from what a watched Bitcoin Core node says about itself (rpc, log,
 * usdt): getpeerinfo aggregates over the latest `peer.stats` of each peer,
 * node-wide gauges from `node.status`, block-connected figures and mempool
 * activity. Part of ObserverMetrics (same registry, same bounded labels): the
 * peers are kept by Core peer id, forgotten when the rpc source reports them
 * gone or when a poll has not mentioned them for `staleMs`, and never more than
 * `maxPeers` at once.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AsnLookup } from '../../http/asn.js';
import type { ObserverEvent, PeerStats } from '../../events/types.js';
import { ADDRMAN_AGE_BUCKETS, type NodeExtras } from '../../events/node-extras.js';
import { AdmittedLabels, OTHER, addrNetworkLabel, addressNetwork } from './labels.js';
import { TopLabels } from './top.js';
import { connectionKey } from '../../events/conn-key.js';

/** Protocol versions with their own label (Core's history: BIP31 60001 ... wtxidrelay 70016); any other is `other`. */
const PROTOCOL_VERSIONS: ReadonlySet<number> = new Set([
  0, 31800, 60001, 60002, 70001, 70002, 70011, 70012, 70013, 70014, 70015, 70016, 70017,
]);
const CONN_TYPES: ReadonlySet<string> = new Set([
  'inbound',
  'outbound-full-relay',
  'block-relay-only',
  'manual',
  'feeler',
  'addr-fetch',
  'private-broadcast',
]);
const TRANSPORTS: ReadonlySet<string> = new Set(['v1', 'v2', 'unknown']);
/** 1 sat/vB in sat/kvB: feefilters below it let sub-1 sat/vB transactions through. */
const ONE_SAT_PER_VB = 1000;

interface PeerEntry {
  stats: PeerStats;
  seenUs: number;
  /** The ASN label (Core's mapped_as, else our lookup, else `unmapped`). */
  asn: string;
}

export interface CoreMetricsOptions {
  /** Our own ASN lookup (--asmap / --geoip-asn) for peers the node does not map itself. */
  asn?: AsnLookup;
  /** ASNs with their own label in the per-AS gauges (the rest: `other`). Default 20. */
  topAsns?: number;
  /** Forget a peer no poll has mentioned for this long (default 5 minutes). */
  staleMs?: number;
  /** Most peers kept at once (default 200,000). */
  maxPeers?: number;
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

export class CoreMetrics {
  private readonly peers = new Map<string, PeerEntry>();
  private newestUs = 0;
  private expiredAt = -1;
  private status: (ObserverEvent & { type: 'node.status' })['data'] | undefined;
  private statusUs = 0;
  private readonly staleMs: number;
  private readonly maxPeers: number;
  private readonly asnLabels: TopLabels;
  private readonly rejectReasons = new AdmittedLabels(48);
  private readonly removeReasons = new AdmittedLabels(16);
  /** peer.stats not kept because `maxPeers` was reached. */
  untracked = 0;

  readonly blocks: Counter<'source'>;
  readonly blockSeconds: Counter<'source'>;
  readonly blockLatest: Gauge<'field'>;
  readonly mempoolTxs: Counter<'action' | 'reason'>;
  readonly mempoolVbytes: Counter<'action'>;
  readonly addrProcessed: Counter<'kind'>;

  constructor(
    registry: Registry,
    prefix: string,
    private readonly options: CoreMetricsOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 5 * 60_000;
    this.maxPeers = options.maxPeers ?? 200_000;
    this.asnLabels = new TopLabels(options.topAsns ?? 20);
    const registers = [registry];
    const expire = () => this.expire();
    /** A gauge whose values are computed at scrape time from the latest node state. */
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>) => void) =>
      new Gauge<L>({
        name: prefix + name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          expire();
          fill(this);
        },
      });
    const nodeGauge = (name: string, help: string, value: (s: NonNullable<CoreMetrics['status']>) => number | null | undefined) =>
      gauge(name, help, [], (g) => {
        const v = this.status ? value(this.status) : null;
        if (typeof v === 'number' && Number.isFinite(v)) g.set(v);
      });
    const extra = <T>(pick: (e: NodeExtras) => T | null): T | null => {
      const e = this.status?.extras;
      return e ? pick(e) : null;
    };

    // getpeerinfo aggregates.
    gauge(
      'node_peers',
      "Peers in the watched node's getpeerinfo, by connection type, transport and network.",
      ['conn_type', 'transport', 'network'],
      (g) => {
        for (const { stats } of this.peers.values()) {
          g.inc({
            conn_type: CONN_TYPES.has(stats.connType) ? stats.connType : OTHER,
            transport: TRANSPORTS.has(stats.transport) ? stats.transport : OTHER,
            network: addressNetwork(stats.conn.remote),
          });
        }
      },
    );
    gauge(
      'node_peers_by_protocol_version',
      'Peers by the protocol version of their version message (known versions, else "other").',
      ['version'],
      (g) => {
        for (const { stats } of this.peers.values())
          g.inc({ version: PROTOCOL_VERSIONS.has(stats.version) ? String(stats.version) : OTHER });
      },
    );
    gauge(
      'node_peers_by_asn',
      'Peers by AS number (the node\'s mapped_as, else our --asmap/--geoip-asn lookup): the most common ones, the rest "other", "unmapped" without either.',
      ['asn'],
      (g) => {
        const counts = new Map<string, number>();
        for (const p of this.peers.values()) counts.set(p.asn, (counts.get(p.asn) ?? 0) + 1);
        for (const [asn, n] of this.asnLabels.top(counts)) g.set({ asn }, n);
      },
    );
    gauge(
      'node_peer_ping_seconds',
      "Ping round trip over the node's peers: last ping (`pingtime`) and best (`minping`), median and mean.",
      ['kind', 'stat'],
      (g) => {
        for (const kind of ['ping', 'minping'] as const) {
          const values = [...this.peers.values()]
            .map((p) => (kind === 'ping' ? p.stats.pingMs : p.stats.minPingMs))
            .filter((v): v is number => v !== null)
            .sort((a, b) => a - b);
          if (values.length === 0) continue;
          g.set({ kind, stat: 'median' }, median(values) / 1000);
          g.set({ kind, stat: 'mean' }, values.reduce((s, v) => s + v, 0) / values.length / 1000);
        }
      },
    );
    gauge(
      'node_peers_flagged',
      'Peers with a condition (time offset beyond ±10 s, addr rate-limited, addr relay, BIP152 high-bandwidth to/from, blocks in flight, ping waiting over 5 s, feefilter below 1 sat/vB).',
      ['condition'],
      (g) => {
        const c: Record<string, number> = {
          time_offset_ahead_10s: 0,
          time_offset_behind_10s: 0,
          addr_rate_limited: 0,
          addr_relay_enabled: 0,
          bip152_hb_to: 0,
          bip152_hb_from: 0,
          blocks_in_flight: 0,
          ping_wait_over_5s: 0,
          feefilter_below_1satvb: 0,
        };
        for (const { stats: s } of this.peers.values()) {
          const x = s.extras;
          if (s.timeOffsetSec > 10) c.time_offset_ahead_10s!++;
          if (s.timeOffsetSec < -10) c.time_offset_behind_10s!++;
          if ((s.addrRateLimited ?? 0) > 0) c.addr_rate_limited!++;
          if (s.addrRelayEnabled) c.addr_relay_enabled!++;
          if (x?.bip152HbTo) c.bip152_hb_to!++;
          if (x?.bip152HbFrom) c.bip152_hb_from!++;
          if (x?.inflightBlocks && x.inflightBlocks.length > 0) c.blocks_in_flight!++;
          if (x?.pingWaitMs != null && x.pingWaitMs > 5000) c.ping_wait_over_5s!++;
          if (x?.minFeeFilterSatPerKvB != null && x.minFeeFilterSatPerKvB < ONE_SAT_PER_VB) c.feefilter_below_1satvb!++;
        }
        for (const [condition, n] of Object.entries(c)) g.set({ condition }, n);
      },
    );
    gauge(
      'node_peer_addr',
      "Addresses the node processed from its current peers' addr messages, and dropped by its rate limiter (sum over getpeerinfo).",
      ['kind'],
      (g) => {
        let processed = 0;
        let limited = 0;
        for (const { stats } of this.peers.values()) {
          processed += stats.addrProcessed ?? 0;
          limited += stats.addrRateLimited ?? 0;
        }
        g.set({ kind: 'processed' }, processed);
        g.set({ kind: 'rate_limited' }, limited);
      },
    );
    gauge('node_blocks_in_flight', 'Distinct block heights the node is downloading from its peers now.', [], (g) => {
      const heights = new Set<number>();
      for (const { stats } of this.peers.values()) for (const h of stats.extras?.inflightBlocks ?? []) heights.add(h);
      g.set(heights.size);
    });
    gauge(
      'node_inbound_ipv4_netgroup_diversity',
      'Distinct /16 netgroups over inbound IPv4 peers (1: all in different /16s; absent without inbound IPv4 peers).',
      [],
      (g) => {
        const groups = new Set<string>();
        let n = 0;
        for (const { stats } of this.peers.values()) {
          if (stats.conn.direction !== 'inbound' || addressNetwork(stats.conn.remote) !== 'ipv4') continue;
          n++;
          groups.add(stats.netgroup);
        }
        if (n > 0) g.set(groups.size / n);
      },
    );
    for (const [name, help, pick] of [
      [
        'node_peer_inv_to_send',
        'Transactions queued to announce, over peers (getpeerinfo inv_to_send, Core 30).',
        (x: PeerStats) => x.extras?.invToSend,
      ],
      [
        'node_peer_cpu_load',
        'CPU load per peer, over peers (getpeerinfo cpu_load, where the node reports it).',
        (x: PeerStats) => x.extras?.cpuLoad,
      ],
    ] as const) {
      gauge(name, help, ['stat'], (g) => {
        const values = [...this.peers.values()]
          .map((p) => pick(p.stats))
          .filter((v): v is number => typeof v === 'number')
          .sort((a, b) => a - b);
        if (values.length === 0) return;
        const sum = values.reduce((s, v) => s + v, 0);
        g.set({ stat: 'sum' }, sum);
        g.set({ stat: 'min' }, values[0]!);
        g.set({ stat: 'max' }, values.at(-1)!);
        g.set({ stat: 'median' }, median(values));
        g.set({ stat: 'mean' }, sum / values.length);
      });
    }

    // node.status.
    gauge(
      'node_status_timestamp_seconds',
      "When the latest node.status (the rpc source's node-wide poll) was made; 0 before the first, when the node_* gauges below read 0.",
      [],
      (g) => {
        g.set(this.statusUs / 1e6);
      },
    );
    nodeGauge('node_uptime_seconds', "The node's uptime (RPC uptime).", (s) => s.uptimeSec);
    nodeGauge('node_blocks', "The node's block height (getblockchaininfo blocks).", (s) => s.blocks);
    nodeGauge('node_headers', 'Headers the node has (getblockchaininfo headers).', (s) => s.headers);
    nodeGauge('node_initial_block_download', '1 while the node is in initial block download.', (s) =>
      s.initialBlockDownload === null ? null : Number(s.initialBlockDownload),
    );
    nodeGauge('node_verification_progress', 'getblockchaininfo verificationprogress.', (s) => s.verificationProgress);
    nodeGauge('node_stale_tips', 'Chain tips other than the active one (getchaintips).', (s) => s.staleTips);
    nodeGauge(
      'node_invalid_tips',
      'Chain tips the node marked invalid (getchaintips status invalid: invalid or mutated blocks).',
      (s) => s.invalidTips,
    );
    nodeGauge('node_banned', "Entries in the node's ban list (listbanned).", (s) => s.banned);
    nodeGauge('node_warnings', 'Warnings the node reports (getnetworkinfo, getblockchaininfo).', (s) => s.warnings.length);
    gauge('node_connections', "The node's connection counts (getnetworkinfo connections_in/out).", ['direction'], (g) => {
      const c = this.status?.connections;
      if (!c) return;
      g.set({ direction: 'inbound' }, c.inbound);
      g.set({ direction: 'outbound' }, c.outbound);
    });
    gauge(
      'node_network_bytes',
      'Bytes the node received and sent since it started (getnettotals; a counter that resets when the node restarts).',
      ['dir'],
      (g) => {
        const s = this.status;
        if (s?.totalBytesIn != null) g.set({ dir: 'in' }, s.totalBytesIn);
        if (s?.totalBytesOut != null) g.set({ dir: 'out' }, s.totalBytesOut);
      },
    );
    nodeGauge('node_mempool_transactions', "Transactions in the node's mempool (getmempoolinfo size).", (s) => s.mempool?.size);
    nodeGauge('node_mempool_vbytes', 'Virtual size of the mempool (getmempoolinfo bytes).', (s) => s.mempool?.bytes);
    nodeGauge('node_mempool_usage_bytes', 'Memory the mempool uses (getmempoolinfo usage).', (s) => s.mempool?.usage);
    nodeGauge(
      'node_mempool_max_bytes',
      "The mempool's memory limit (getmempoolinfo maxmempool).",
      (s) => s.extras?.mempoolDetail?.maxBytes,
    );
    nodeGauge(
      'node_mempool_fees_btc',
      'Total fees in the mempool (getmempoolinfo total_fee).',
      (s) => s.extras?.mempoolDetail?.totalFeeBtc,
    );
    nodeGauge('node_mempool_loaded', '1 once the node has loaded its mempool file.', (s) => {
      const l = s.extras?.mempoolDetail?.loaded;
      return l == null ? null : Number(l);
    });
    nodeGauge(
      'node_mempool_unbroadcast',
      'Transactions the node has not yet seen a peer take (getmempoolinfo unbroadcastcount).',
      (s) => s.extras?.mempoolDetail?.unbroadcast,
    );
    gauge(
      'node_feerate_btc_per_kvb',
      "The node's fee rates: mempool minimum, minimum relay, incremental relay (getmempoolinfo).",
      ['kind'],
      (g) => {
        const s = this.status;
        if (s?.mempool) g.set({ kind: 'mempool_min' }, s.mempool.minFeeBtcPerKvB);
        const d = s?.extras?.mempoolDetail;
        if (d?.minRelayFeeBtcPerKvB != null) g.set({ kind: 'min_relay' }, d.minRelayFeeBtcPerKvB);
        if (d?.incrementalRelayFeeBtcPerKvB != null) g.set({ kind: 'incremental_relay' }, d.incrementalRelayFeeBtcPerKvB);
      },
    );
    gauge('node_memory_locked_bytes', "The node's locked (secure) memory pool (getmemoryinfo locked).", ['kind'], (g) => {
      const m = extra((e) => e.memoryLocked);
      if (!m) return;
      for (const kind of ['used', 'free', 'total', 'locked'] as const) g.set({ kind }, m[kind]);
    });
    gauge('node_memory_locked_chunks', 'Chunks of the locked memory pool (getmemoryinfo chunks_used/chunks_free).', ['state'], (g) => {
      const m = extra((e) => e.memoryLocked);
      if (!m) return;
      g.set({ state: 'used' }, m.chunksUsed);
      g.set({ state: 'free' }, m.chunksFree);
    });
    gauge('node_orphan_transactions', "Transactions in the node's orphanage (getorphantxs, Core 29).", [], (g) => {
      const o = extra((e) => e.orphans);
      if (o) g.set(o.count);
    });
    gauge('node_orphan_bytes', "Total size of the orphanage's transactions (getorphantxs verbosity 1).", [], (g) => {
      const o = extra((e) => e.orphans);
      if (o) g.set(o.bytes);
    });
    gauge(
      'node_addrman_addresses',
      "Addresses in the node's address manager by table and network (getaddrmaninfo, Core 26).",
      ['table', 'network'],
      (g) => {
        const by = extra((e) => e.addrmanByNetwork);
        if (by) {
          for (const [net, c] of Object.entries(by)) {
            const network = net === 'onion' ? 'onion' : addrNetworkLabel(net);
            g.set({ table: 'new', network }, c.new);
            g.set({ table: 'tried', network }, c.tried);
          }
        } else if (this.status?.addrman) {
          g.set({ table: 'new', network: 'all' }, this.status.addrman.new);
          g.set({ table: 'tried', network: 'all' }, this.status.addrman.tried);
        }
      },
    );
    gauge(
      'node_addrman_entries_by_age',
      'Address-manager entries by the age of their timestamp (getrawaddrman): future (over 10 minutes ahead), within an hour, day, week, 30 days, older.',
      ['table', 'age'],
      (g) => {
        const a = extra((e) => e.addrmanAge);
        if (!a) return;
        for (const table of ['new', 'tried'] as const) for (const age of ADDRMAN_AGE_BUCKETS) g.set({ table, age }, a[table][age]);
      },
    );
    gauge(
      'node_addrman_max_future_seconds',
      'How far the most future-dated address-manager entry is ahead of the poll (0: none over 10 minutes).',
      [],
      (g) => {
        const a = extra((e) => e.addrmanAge);
        if (a) g.set(a.maxFutureSec);
      },
    );
    gauge(
      'node_tracked_peers',
      'Core peers the metrics keep the latest getpeerinfo of (tracked), and peer.stats not kept at the cap (untracked, cumulative).',
      ['state'],
      (g) => {
        g.set({ state: 'tracked' }, this.peers.size);
        g.set({ state: 'untracked' }, this.untracked);
      },
    );

    // Blocks and the mempool, from log/usdt/rpc events.
    this.blocks = new Counter({
      name: prefix + 'blocks_connected_total',
      help: "Blocks connected to the node's active chain, by source.",
      labelNames: ['source'],
      registers,
    });
    this.blockSeconds = new Counter({
      name: prefix + 'block_connect_seconds_total',
      help: 'Time the node spent connecting blocks (where the source says), by source.',
      labelNames: ['source'],
      registers,
    });
    this.blockLatest = new Gauge({
      name: prefix + 'block_connected_latest',
      help: 'The latest connected block: height, transactions, inputs, sigops, connect_ms (where the source says).',
      labelNames: ['field'],
      registers,
    });
    this.mempoolTxs = new Counter({
      name: prefix + 'mempool_transactions_total',
      help: 'Transactions added to, rejected by, removed from, or replaced in the node\'s mempool; reason for rejected/removed (the first 48/16 distinct reasons, then "other").',
      labelNames: ['action', 'reason'],
      registers,
    });
    this.mempoolVbytes = new Counter({
      name: prefix + 'mempool_vbytes_total',
      help: 'Virtual bytes of those transactions, where the source says.',
      labelNames: ['action'],
      registers,
    });
    this.addrProcessed = new Counter({
      name: prefix + 'node_addr_received_total',
      help: 'Addresses in addr messages the node received (log "Received addr"), processed and rate-limited.',
      labelNames: ['kind'],
      registers,
    });
  }

  handle(event: ObserverEvent): void {
    switch (event.type) {
      case 'peer.stats': {
        const key = connectionKey(event, event.data.conn.id);
        this.newestUs = Math.max(this.newestUs, event.timeUs);
        const prev = this.peers.get(key);
        if (!prev && this.peers.size >= this.maxPeers) {
          this.untracked++;
          return;
        }
        const asn =
          prev && prev.stats.conn.remote === event.data.conn.remote && event.data.extras?.mappedAs == null
            ? prev.asn
            : this.asnOf(event.data);
        this.peers.set(key, { stats: event.data, seenUs: event.timeUs, asn });
        return;
      }
      case 'connection.closed':
        this.peers.delete(connectionKey(event, event.data.conn.id));
        return;
      case 'node.status':
        this.status = event.data;
        this.statusUs = event.timeUs;
        return;
      case 'block.connected': {
        const d = event.data;
        const source = event.source.slice(0, 16);
        this.blocks.inc({ source });
        this.blockLatest.set({ field: 'height' }, d.height);
        for (const [field, v] of [
          ['transactions', d.transactions],
          ['inputs', d.inputs],
          ['sigops', d.sigops],
          ['connect_ms', d.durationMs],
        ] as const) {
          if (v !== null && Number.isFinite(v)) this.blockLatest.set({ field }, v);
        }
        if (d.durationMs !== null && Number.isFinite(d.durationMs) && d.durationMs >= 0)
          this.blockSeconds.inc({ source }, d.durationMs / 1000);
        return;
      }
      case 'mempool.tx': {
        const d = event.data;
        const reason =
          d.action === 'rejected'
            ? this.rejectReasons.label(reasonText(d.reason))
            : d.action === 'removed'
              ? this.removeReasons.label(reasonText(d.reason))
              : 'none';
        this.mempoolTxs.inc({ action: d.action, reason });
        if (d.vsize !== null && Number.isFinite(d.vsize) && d.vsize >= 0) this.mempoolVbytes.inc({ action: d.action }, d.vsize);
        return;
      }
      case 'addr.received':
        this.addrProcessed.inc({ kind: 'processed' }, event.data.processed);
        this.addrProcessed.inc({ kind: 'rate_limited' }, event.data.rateLimited);
        return;
      default:
        return;
    }
  }

  private asnOf(s: PeerStats): string {
    const mapped = s.extras?.mappedAs;
    if (mapped != null && mapped > 0) return `AS${mapped}`;
    const ours = this.options.asn?.lookup(s.conn.remote);
    return ours ? `AS${ours}` : 'unmapped';
  }

  /** Forget peers no poll has mentioned for `staleMs` (the rpc source stopped, or missed their going). */
  private expire(): void {
    // Staleness is relative to the newest peer.stats: nothing to do until another arrives (every gauge calls this per scrape).
    if (this.expiredAt === this.newestUs) return;
    this.expiredAt = this.newestUs;
    const before = this.newestUs - this.staleMs * 1000;
    for (const [key, p] of this.peers) if (p.seenUs < before) this.peers.delete(key);
  }
}

/** A rejection/removal reason as Core words it, without the detail after the code (`mempool-min-fee-not-met, 100 < 200` → `mempool-min-fee-not-met`). */
export function reasonText(reason: string | null): string {
  if (reason === null || reason === '') return 'unknown';
  const code = reason.split(/[,(:]/)[0]!.trim();
  return /^[\w-]{1,64}$/.test(code) ? code : OTHER;
}
