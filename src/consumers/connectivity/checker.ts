/**
 * The connectivity check's state machine, without a bus: advertised entries
 * in (entry(), message()), probes out through an injected `probe`, results
 * out through an injected `publish`. It judges each entry (targets.ts), answers
 * repeats from the result cache, coalesces addresses already waiting, bounds
 * the queue (overflow counted as `dropped`), and starts probes with bounded
 * concurrency at a global rate. consumer.ts puts it on a bus.
 */
import { setMaxListeners } from 'node:events';
import { makeEvent } from '../../events/envelope.js';
import { summaryOf, type AddrEntry } from '../../events/message-summary.js';
import type { ConnectivityResult, ConnectivitySource, ConnectivitySummary, ObserverEvent } from '../../events/types.js';
import { formatEndpoint } from '../../protocol/address.js';
import type { Network } from '../../protocol/networks.js';
import { LruTtlCache } from './cache.js';
import { probe, type DialFn, type ProbeReason, type ProbeResult } from './probe.js';
import { judgeTarget } from './targets.js';

export interface CheckerOptions {
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
  userAgent?: string;
  /** How to open TCP connections (tests pass a spy). */
  dial?: DialFn;
}

/** One address to try: what the default (probe.ts, a real v1 handshake) is given. */
export interface ProbeTarget {
  host: string;
  port: number;
  signal: AbortSignal;
}

export interface CheckerIo {
  /** Where `connectivity.result` and `connectivity.summary` events go. */
  publish: (event: ObserverEvent) => void;
  /** Try one address (default: probe.ts with the options' network, timeouts, user agent and dial). */
  probe?: (target: ProbeTarget) => Promise<ProbeResult>;
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

type Resolved = Required<Omit<CheckerOptions, 'dial'>> & Pick<CheckerOptions, 'dial'>;

export class ConnectivityChecker {
  readonly #o: Resolved;
  readonly #io: Required<CheckerIo>;
  readonly #cache: LruTtlCache<string, Cached>;
  readonly #sources: LruTtlCache<string, SourceCounts>;
  readonly #queue: Pending[] = [];
  readonly #pendingByKey = new Map<string, Pending>();
  readonly #stopping = new AbortController();
  readonly #totals = { advertised: 0, tried: 0, reachable: 0, probes: 0, cacheHits: 0, coalesced: 0, dropped: 0 };
  readonly #notTried: Record<string, number> = {};
  readonly #skipped: Record<string, number> = {};
  #inFlight = 0;
  readonly #running = new Set<Promise<void>>();
  /** Global rate: one probe start per 1000/ratePerSec ms. */
  #nextStartAt = 0;
  #pumpTimer: NodeJS.Timeout | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: CheckerOptions, io: CheckerIo) {
    const o: Resolved = {
      allowLoopback: false,
      concurrency: 16,
      ratePerSec: 10,
      maxQueue: 10_000,
      cacheSize: 100_000,
      cacheTtlMs: 30 * 60_000,
      connectTimeoutMs: 5_000,
      handshakeTimeoutMs: 10_000,
      maxSources: 10_000,
      userAgent: '/peer-observer:0.1.0/',
      ...options,
    };
    for (const k of ['concurrency', 'ratePerSec', 'maxQueue', 'cacheSize', 'cacheTtlMs', 'maxSources'] as const) {
      if (!(o[k] > 0)) throw new RangeError(`connectivity ${k} must be greater than 0`);
    }
    this.#o = o;
    this.#io = {
      publish: io.publish,
      probe:
        io.probe ??
        ((t) =>
          probe({
            network: o.network,
            host: t.host,
            port: t.port,
            connectTimeoutMs: o.connectTimeoutMs,
            handshakeTimeoutMs: o.handshakeTimeoutMs,
            userAgent: o.userAgent,
            signal: t.signal,
            ...(o.dial ? { dial: o.dial } : {}),
          })),
    };
    this.#cache = new LruTtlCache<string, Cached>(o.cacheSize, o.cacheTtlMs);
    this.#sources = new LruTtlCache<string, SourceCounts>(o.maxSources, 24 * 3_600_000);
    setMaxListeners(0, this.#stopping.signal);
  }

  get stopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Every addr/addrv2 entry a peer sent us (other events are ignored). */
  message(e: ObserverEvent): void {
    if (e.type !== 'message' || e.data.dir !== 'in' || !e.data.known || (e.data.command !== 'addr' && e.data.command !== 'addrv2')) return;
    const entries: AddrEntry[] = summaryOf(e.data)?.entries ?? [];
    for (const entry of entries)
      this.entry(entry.addr, entry.port, 'network' in entry ? entry.network : undefined, e.data.conn.remote, e.nodeId);
  }

  /** One advertised address, from `sourcePeer` as seen by observer `nodeId`. */
  entry(addrText: string, port: number, network: string | undefined, sourcePeer: string, nodeId: string): void {
    if (this.stopping) return;
    this.#totals.advertised++;
    const src = this.#sourceOf(sourcePeer, nodeId);
    src.advertised++;
    const verdict = judgeTarget(addrText, network, { allowLoopback: this.#o.allowLoopback });
    if (verdict.kind === 'skipped') {
      this.#skipped[verdict.network] = (this.#skipped[verdict.network] ?? 0) + 1;
      return;
    }
    const endpoint = safeEndpoint(addrText, port);
    if (verdict.kind === 'refused') {
      this.#notTried[verdict.class] = (this.#notTried[verdict.class] ?? 0) + 1;
      src.notTried++;
      this.#publish(nodeId, {
        addr: endpoint,
        sourcePeer,
        reachable: false,
        reason: 'not-tried',
        latencyMs: null,
        detail: NOT_TRIED_DETAIL[verdict.class]!,
      });
      return;
    }
    const cached = this.#cache.get(endpoint);
    if (cached) {
      this.#totals.cacheHits++;
      this.#record({ sourcePeer, nodeId }, endpoint, cached, null);
      return;
    }
    const pending = this.#pendingByKey.get(endpoint);
    if (pending) {
      this.#totals.coalesced++;
      if (
        pending.sources.length < MAX_SOURCES_PER_PENDING &&
        !pending.sources.some((x) => x.sourcePeer === sourcePeer && x.nodeId === nodeId)
      ) {
        pending.sources.push({ sourcePeer, nodeId });
      }
      return;
    }
    if (this.#queue.length >= this.#o.maxQueue) {
      this.#totals.dropped++;
      return;
    }
    const p: Pending = { host: verdict.host, port, key: endpoint, sources: [{ sourcePeer, nodeId }] };
    this.#queue.push(p);
    this.#pendingByKey.set(endpoint, p);
    this.#pump();
  }

  /** Totals, shares, what was not tried and skipped, the queue, and the 20 sources with most tries. */
  summary(): ConnectivitySummary {
    const top: ConnectivitySource[] = [];
    for (const [key, s] of this.#sources.entries()) {
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
    const totals = this.#totals;
    return {
      ...totals,
      reachableShare: totals.tried > 0 ? totals.reachable / totals.tried : null,
      notTried: { ...this.#notTried },
      skipped: { ...this.#skipped },
      queued: this.#queue.length,
      inFlight: this.#inFlight,
      cacheSize: this.#cache.size,
      sources: top.slice(0, 20),
    };
  }

  /** Publish the summary as a `connectivity.summary` event. */
  publishSummary(): void {
    try {
      this.#io.publish(makeEvent({ nodeId: this.#o.nodeId, source: 'connectivity' }, 'connectivity.summary', this.summary()));
    } catch {
      // the bus is closing
    }
  }

  /** Abort the probes in flight, forget the queue, wait for the probes to settle. Idempotent. */
  stop(): Promise<void> {
    return (this.#stopped ??= (async () => {
      if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
      this.#pumpTimer = undefined;
      this.#stopping.abort();
      this.#queue.length = 0;
      this.#pendingByKey.clear();
      await Promise.all([...this.#running]);
    })());
  }

  #sourceOf(sourcePeer: string, nodeId: string): SourceCounts {
    const key = `${nodeId}|${sourcePeer}`;
    let s = this.#sources.get(key);
    if (!s) {
      s = { nodeId, advertised: 0, tried: 0, reachable: 0, notTried: 0 };
      this.#sources.set(key, s);
    }
    return s;
  }

  #publish(nodeId: string, data: ConnectivityResult): void {
    try {
      this.#io.publish(makeEvent({ nodeId, source: 'connectivity' }, 'connectivity.result', data));
    } catch {
      // the bus is closing
    }
  }

  #record(p: { sourcePeer: string; nodeId: string }, addr: string, r: Cached, latencyMs: number | null): void {
    const s = this.#sourceOf(p.sourcePeer, p.nodeId);
    s.tried++;
    this.#totals.tried++;
    if (r.reachable) {
      s.reachable++;
      this.#totals.reachable++;
    }
    this.#publish(p.nodeId, {
      addr,
      sourcePeer: p.sourcePeer,
      reachable: r.reachable,
      reason: REASON[r.reason],
      latencyMs,
      detail: r.detail.slice(0, 256),
      ...(r.userAgent !== null ? { userAgent: r.userAgent.slice(0, 1024) } : {}),
    });
  }

  #pump(): void {
    if (this.#pumpTimer || this.stopping) return;
    while (this.#queue.length > 0 && this.#inFlight < this.#o.concurrency) {
      const now = performance.now();
      if (now < this.#nextStartAt) {
        this.#pumpTimer = setTimeout(() => {
          this.#pumpTimer = undefined;
          this.#pump();
        }, this.#nextStartAt - now);
        return;
      }
      this.#nextStartAt = Math.max(this.#nextStartAt, now) + 1000 / this.#o.ratePerSec;
      const p = this.#queue.shift()!;
      this.#inFlight++;
      this.#totals.probes++;
      const task = this.#io.probe({ host: p.host, port: p.port, signal: this.#stopping.signal }).then(
        (r) => this.#settled(p, r),
        (err: unknown) =>
          this.#settled(p, {
            reachable: false,
            reason: 'socket-error',
            detail: err instanceof Error ? err.message : String(err),
            latencyMs: 0,
            userAgent: null,
            version: null,
          }),
      );
      this.#running.add(task);
      void task.finally(() => this.#running.delete(task));
    }
  }

  #settled(p: Pending, r: ProbeResult): void {
    this.#inFlight--;
    this.#pendingByKey.delete(p.key);
    if (this.stopping) return;
    const c: Cached = { reachable: r.reachable, reason: r.reason, detail: r.detail, userAgent: r.userAgent };
    this.#cache.set(p.key, c);
    for (const s of p.sources) this.#record(s, p.key, c, r.latencyMs);
    this.#pump();
  }
}

function safeEndpoint(ip: string, port: number): string {
  try {
    return formatEndpoint(ip, port);
  } catch {
    return `${ip}:${port}`;
  }
}
