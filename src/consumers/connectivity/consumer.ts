/**
 * The connectivity check: a consumer of `message` events that tries the
 * addresses peers advertise in addr/addrv2, to tell real nodes from made-up
 * ones (the July 2021 flood advertised hundreds of thousands of addresses that
 * were no node at all).
 *
 * For every advertised entry: targets.ts decides whether it may be dialled
 * (public IPs only by default; Tor/I2P/CJDNS skipped, no proxy support yet); a
 * result cache (LRU with TTL) answers repeats; otherwise the address joins a
 * bounded queue, and workers probe it (probe.ts: a real v1 handshake) with
 * bounded concurrency and a global rate. Each result is published as a
 * `connectivity.result` (under the advertising observer's node id) and counted
 * per source peer; a `connectivity.summary` with the reachable shares, overall
 * and per source, goes out every `summaryIntervalMs` and at the end.
 *
 * Nothing is dropped silently: a full queue counts `dropped`, and addresses
 * already waiting count as `coalesced`.
 */
import { setMaxListeners } from 'node:events';
import type { Bus, Subscription } from '../../bus/bus.js';
import { makeEvent } from '../../events/envelope.js';
import { summaryOf, type AddrSummary, type AddrV2Summary } from '../../events/message-summary.js';
import type { ConnectivityResult, ConnectivitySource, ConnectivitySummary, ObserverEvent } from '../../events/types.js';
import { formatEndpoint } from '../../protocol/address.js';
import type { Network } from '../../protocol/networks.js';
import { LruTtlCache } from './cache.js';
import { probe, type DialFn, type ProbeReason, type ProbeResult } from './probe.js';
import { judgeTarget } from './targets.js';

export interface ConnectivityOptions {
  network: Network;
  /** Node id for the summary events (results carry the advertising observer's). */
  nodeId: string;
  /** Permit 127.0.0.0/8 and ::1 (tests only). Default false. */
  allowLoopback?: boolean;
  /** Probes at once (default 16). */
  concurrency?: number;
  /** Probes started per second, at most (default 10). */
  ratePerSec?: number;
  /** Addresses waiting for a probe (default 10,000); more are dropped and counted. */
  maxQueue?: number;
  /** Results remembered (default 100,000 addresses), each for `cacheTtlMs` (default 30 min). */
  cacheSize?: number;
  cacheTtlMs?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Source peers with counts kept (default 10,000; least recently active evicted). */
  maxSources?: number;
  summaryIntervalMs?: number;
  userAgent?: string;
  /** How to open TCP connections (tests pass a spy). */
  dial?: DialFn;
  /** Subscription queue bound (default 100,000 events). */
  maxEvents?: number;
}

export interface ConnectivityCheck {
  /** Resolves when the bus closes or `stop()` finished, after the last summary. */
  done: Promise<void>;
  stop(): Promise<void>;
  summary(): ConnectivitySummary;
}

/** The reasons `connectivity.result` carries, in the schema's vocabulary. */
const REASON: Record<ProbeReason, string> = {
  handshake: 'version',
  'connection-refused': 'refused',
  'connect-timeout': 'timeout',
  'handshake-timeout': 'timeout',
  closed: 'closed',
  'not-bitcoin': 'not-bitcoin',
  'socket-error': 'error',
};

const NOT_TRIED_DETAIL: Record<string, string> = {
  private: 'private address (RFC 1918, fc00::/7): not dialled',
  loopback: 'loopback address: not dialled',
  'link-local': 'link-local address: not dialled',
  multicast: 'multicast address: not dialled',
  reserved: 'reserved address (documentation, benchmarking, CGNAT, 0/8, 240/4, ...): not dialled',
  unspecified: 'unspecified address: not dialled',
};

interface Pending {
  host: string;
  port: number;
  key: string;
  /** Who advertised it while it waited (bounded). */
  sources: { sourcePeer: string; nodeId: string }[];
}

interface SourceCounts {
  nodeId: string;
  advertised: number;
  tried: number;
  reachable: number;
  notTried: number;
}

type Cached = Pick<ProbeResult, 'reachable' | 'reason' | 'detail' | 'userAgent'>;

const MAX_SOURCES_PER_PENDING = 8;

export function startConnectivity(bus: Bus, options: ConnectivityOptions): ConnectivityCheck {
  const o = {
    allowLoopback: false,
    concurrency: 16,
    ratePerSec: 10,
    maxQueue: 10_000,
    cacheSize: 100_000,
    cacheTtlMs: 30 * 60_000,
    connectTimeoutMs: 5_000,
    handshakeTimeoutMs: 10_000,
    maxSources: 10_000,
    summaryIntervalMs: 10_000,
    userAgent: '/peer-observer:0.1.0/',
    maxEvents: 100_000,
    ...options,
  };
  for (const k of ['concurrency', 'ratePerSec', 'maxQueue', 'cacheSize', 'cacheTtlMs', 'maxSources'] as const) {
    if (!(o[k] > 0)) throw new RangeError(`connectivity ${k} must be greater than 0`);
  }
  const cache = new LruTtlCache<string, Cached>(o.cacheSize, o.cacheTtlMs);
  const sources = new LruTtlCache<string, SourceCounts>(o.maxSources, 24 * 3_600_000);
  const queue: Pending[] = [];
  const pendingByKey = new Map<string, Pending>();
  const stopping = new AbortController();
  setMaxListeners(0, stopping.signal);
  const totals = { advertised: 0, tried: 0, reachable: 0, probes: 0, cacheHits: 0, coalesced: 0, dropped: 0 };
  const notTried: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  let inFlight = 0;
  const running = new Set<Promise<void>>();

  // Global rate: one probe start per 1000/ratePerSec ms.
  let nextStartAt = 0;
  let pumpTimer: NodeJS.Timeout | undefined;

  const sourceOf = (sourcePeer: string, nodeId: string): SourceCounts => {
    const key = `${nodeId}|${sourcePeer}`;
    let s = sources.get(key);
    if (!s) {
      s = { nodeId, advertised: 0, tried: 0, reachable: 0, notTried: 0 };
      sources.set(key, s);
    }
    return s;
  };

  const publish = (nodeId: string, data: ConnectivityResult) => {
    try {
      bus.publish(makeEvent({ nodeId, source: 'connectivity' }, 'connectivity.result', data));
    } catch {
      // the bus is closing
    }
  };

  const record = (p: { sourcePeer: string; nodeId: string }, addr: string, r: Cached, latencyMs: number | null) => {
    const s = sourceOf(p.sourcePeer, p.nodeId);
    s.tried++;
    totals.tried++;
    if (r.reachable) {
      s.reachable++;
      totals.reachable++;
    }
    publish(p.nodeId, {
      addr,
      sourcePeer: p.sourcePeer,
      reachable: r.reachable,
      reason: REASON[r.reason],
      latencyMs,
      detail: r.detail.slice(0, 256),
      ...(r.userAgent !== null ? { userAgent: r.userAgent.slice(0, 1024) } : {}),
    });
  };

  const onEntry = (addrText: string, port: number, network: string | undefined, sourcePeer: string, nodeId: string) => {
    totals.advertised++;
    const src = sourceOf(sourcePeer, nodeId);
    src.advertised++;
    const verdict = judgeTarget(addrText, network, { allowLoopback: o.allowLoopback });
    if (verdict.kind === 'skipped') {
      skipped[verdict.network] = (skipped[verdict.network] ?? 0) + 1;
      return;
    }
    const endpoint = safeEndpoint(addrText, port);
    if (verdict.kind === 'refused') {
      notTried[verdict.class] = (notTried[verdict.class] ?? 0) + 1;
      src.notTried++;
      publish(nodeId, {
        addr: endpoint,
        sourcePeer,
        reachable: false,
        reason: 'not-tried',
        latencyMs: null,
        detail: NOT_TRIED_DETAIL[verdict.class]!,
      });
      return;
    }
    const cached = cache.get(endpoint);
    if (cached) {
      totals.cacheHits++;
      record({ sourcePeer, nodeId }, endpoint, cached, null);
      return;
    }
    const pending = pendingByKey.get(endpoint);
    if (pending) {
      totals.coalesced++;
      if (
        pending.sources.length < MAX_SOURCES_PER_PENDING &&
        !pending.sources.some((x) => x.sourcePeer === sourcePeer && x.nodeId === nodeId)
      ) {
        pending.sources.push({ sourcePeer, nodeId });
      }
      return;
    }
    if (queue.length >= o.maxQueue) {
      totals.dropped++;
      return;
    }
    const p: Pending = { host: verdict.host, port, key: endpoint, sources: [{ sourcePeer, nodeId }] };
    queue.push(p);
    pendingByKey.set(endpoint, p);
    pump();
  };

  const pump = (): void => {
    if (pumpTimer || stopping.signal.aborted) return;
    while (queue.length > 0 && inFlight < o.concurrency) {
      const now = performance.now();
      if (now < nextStartAt) {
        pumpTimer = setTimeout(() => {
          pumpTimer = undefined;
          pump();
        }, nextStartAt - now);
        return;
      }
      nextStartAt = Math.max(nextStartAt, now) + 1000 / o.ratePerSec;
      const p = queue.shift()!;
      inFlight++;
      totals.probes++;
      const task = probe({
        network: o.network,
        host: p.host,
        port: p.port,
        connectTimeoutMs: o.connectTimeoutMs,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        userAgent: o.userAgent,
        signal: stopping.signal,
        ...(o.dial ? { dial: o.dial } : {}),
      }).then((r) => {
        inFlight--;
        pendingByKey.delete(p.key);
        if (stopping.signal.aborted) return;
        const c: Cached = { reachable: r.reachable, reason: r.reason, detail: r.detail, userAgent: r.userAgent };
        cache.set(p.key, c);
        for (const s of p.sources) record(s, p.key, c, r.latencyMs);
        pump();
      });
      running.add(task);
      void task.finally(() => running.delete(task));
    }
  };

  const summary = (): ConnectivitySummary => {
    const top: ConnectivitySource[] = [];
    for (const [key, s] of sources.entries()) {
      top.push({
        sourcePeer: key.slice(key.indexOf('|') + 1),
        nodeId: s.nodeId,
        advertised: s.advertised,
        tried: s.tried,
        reachable: s.reachable,
        reachableShare: s.tried > 0 ? s.reachable / s.tried : null,
        notTried: s.notTried,
      });
    }
    top.sort((a, b) => b.tried - a.tried || b.advertised - a.advertised);
    return {
      ...totals,
      reachableShare: totals.tried > 0 ? totals.reachable / totals.tried : null,
      notTried: { ...notTried },
      skipped: { ...skipped },
      queued: queue.length,
      inFlight,
      cacheSize: cache.size,
      sources: top.slice(0, 20),
    };
  };

  const publishSummary = () => {
    try {
      bus.publish(makeEvent({ nodeId: o.nodeId, source: 'connectivity' }, 'connectivity.summary', summary()));
    } catch {
      // the bus is closing
    }
  };
  const summaryTimer = setInterval(publishSummary, o.summaryIntervalMs).unref();

  const sub: Subscription = bus.subscribe({ types: ['message'], maxQueue: o.maxEvents });
  const consume = async () => {
    for await (const e of sub) {
      if (stopping.signal.aborted) break;
      onMessage(e);
    }
  };
  const onMessage = (e: ObserverEvent) => {
    if (e.type !== 'message' || e.data.dir !== 'in' || !e.data.known || (e.data.command !== 'addr' && e.data.command !== 'addrv2')) return;
    const entries: (AddrSummary['entries'][number] | AddrV2Summary['entries'][number])[] = summaryOf(e.data)?.entries ?? [];
    for (const entry of entries)
      onEntry(entry.addr, entry.port, 'network' in entry ? entry.network : undefined, e.data.conn.remote, e.nodeId);
  };

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(summaryTimer);
      if (pumpTimer) clearTimeout(pumpTimer);
      pumpTimer = undefined;
      stopping.abort();
      sub.unsubscribe();
      queue.length = 0;
      pendingByKey.clear();
      await Promise.all([...running]);
      publishSummary();
    })());
  const done = (async () => {
    await consume();
    await stop();
  })();

  return { done, stop, summary };
}

function safeEndpoint(ip: string, port: number): string {
  try {
    return formatEndpoint(ip, port);
  } catch {
    return `${ip}:${port}`;
  }
}
