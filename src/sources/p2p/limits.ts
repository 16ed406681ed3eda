/**
 * The observer's resource limits, after Bitcoin Core's: how many inbound peers,
 * how many from one address, how long a handshake may take, how often we ping and
 * when an unanswered ping drops the peer, and how much we buffer for a peer that
 * does not read. Everything a peer can make us hold has a bound here.
 */
import { HANDSHAKE_TIMEOUT_MS, PING_INTERVAL_MS, PING_TIMEOUT_MS } from '../../protocol/limits.js';

export interface ObserverLimits {
  /** Inbound peers held at once (Core's -maxconnections default is 125). */
  maxConnections: number;
  /** Inbound peers from one source IP address. */
  maxPerIp: number;
  /** A peer must complete version/verack within this (Core: -peertimeout, 60 s). */
  handshakeTimeoutMs: number;
  /** Ping each peer this often when no ping is outstanding (Core: PING_INTERVAL, 2 min). */
  pingIntervalMs: number;
  /** Drop a peer whose ping is unanswered this long (Core: TIMEOUT_INTERVAL, 20 min). */
  pingTimeoutMs: number;
  /**
   * Bytes we queue for a peer's socket before we stop reading from it and drop
   * further messages to it (counted), like Core's -maxsendbuffer / fPauseSend.
   */
  maxSendBufferBytes: number;
  /** Outbound dial attempt timeout (Core: DEFAULT_CONNECT_TIMEOUT, 5 s). */
  connectTimeoutMs: number;
  /** First re-dial delay after an outbound peer drops; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** How often the observer publishes its `pipeline.counters` event. */
  countersIntervalMs: number;
  /**
   * Inbound peers from one netgroup (IPv4 /16, IPv6 /32; loopback and private IPv4
   * by /16). Core has no such cap (its eviction favours diverse netgroups); ours
   * keeps one /16 from holding more than this many slots at all.
   */
  maxPerNetgroup: number;
  /**
   * Inbound connections still in their version handshake at once; a new one past
   * this displaces the least advanced (eviction.ts selectPendingToEvict), so slow
   * or silent connections cannot crowd out peers that complete handshakes.
   */
  maxPendingHandshakes: number;
}

export const DEFAULT_LIMITS: Readonly<ObserverLimits> = Object.freeze({
  maxConnections: 125,
  maxPerIp: 8,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  pingIntervalMs: PING_INTERVAL_MS,
  pingTimeoutMs: PING_TIMEOUT_MS,
  maxSendBufferBytes: 1_000_000,
  connectTimeoutMs: 5_000,
  initialBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  countersIntervalMs: 10_000,
  maxPerNetgroup: 16,
  maxPendingHandshakes: 32,
});

/** Upper bounds that keep a typo from turning into an unbounded resource. */
const MAXIMA: Readonly<Record<keyof ObserverLimits, number>> = {
  maxConnections: 1_000_000,
  maxPerIp: 1_000_000,
  handshakeTimeoutMs: 24 * 3_600_000,
  pingIntervalMs: 24 * 3_600_000,
  pingTimeoutMs: 24 * 3_600_000,
  maxSendBufferBytes: 1_000_000_000,
  connectTimeoutMs: 3_600_000,
  initialBackoffMs: 3_600_000,
  maxBackoffMs: 24 * 3_600_000,
  countersIntervalMs: 24 * 3_600_000,
  maxPerNetgroup: 1_000_000,
  maxPendingHandshakes: 1_000_000,
};

/** Fill in defaults and reject values that are not positive integers within bounds. */
export function resolveLimits(partial: Partial<ObserverLimits> = {}): ObserverLimits {
  const out: ObserverLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof ObserverLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in MAXIMA)) throw new Error(`unknown observer limit '${key}'`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAXIMA[key]) {
      throw new Error(`observer limit ${key} must be an integer from 1 to ${MAXIMA[key]}, got ${String(value)}`);
    }
    out[key] = value;
  }
  if (out.maxBackoffMs < out.initialBackoffMs) out.maxBackoffMs = out.initialBackoffMs;
  return out;
}

export type AdmitResult = 'ok' | 'total' | 'per-ip' | 'per-netgroup';

/**
 * Counts inbound connections in total, per source address and per netgroup. Its
 * state is one map entry per address and netgroup currently connected, removed
 * when the last one goes, so it is bounded by `maxConnections`.
 */
export class ConnectionLimiter {
  private readonly perIp = new Map<string, number>();
  private readonly perGroup = new Map<string, number>();
  private readonly groupOfIp = new Map<string, string>();
  private total = 0;

  constructor(
    private readonly limits: Pick<ObserverLimits, 'maxConnections' | 'maxPerIp'> & Partial<Pick<ObserverLimits, 'maxPerNetgroup'>>,
  ) {}

  get size(): number {
    return this.total;
  }

  /**
   * Would `ip` (of `netgroup`) be refused by the per-IP or per-netgroup cap? The
   * total is not checked here: when it is full, eviction may make room.
   */
  refusal(ip: string, netgroup?: string): 'per-ip' | 'per-netgroup' | undefined {
    if ((this.perIp.get(ip) ?? 0) >= this.limits.maxPerIp) return 'per-ip';
    if (netgroup !== undefined && this.limits.maxPerNetgroup !== undefined && this.countForGroup(netgroup) >= this.limits.maxPerNetgroup)
      return 'per-netgroup';
    return undefined;
  }

  /** Take a slot for `ip` (counted under `netgroup` when given), or say which limit refuses it. */
  admit(ip: string, netgroup?: string): AdmitResult {
    if (this.total >= this.limits.maxConnections) return 'total';
    const refused = this.refusal(ip, netgroup);
    if (refused) return refused;
    const n = this.perIp.get(ip) ?? 0;
    this.perIp.set(ip, n + 1);
    if (netgroup !== undefined) {
      this.groupOfIp.set(ip, netgroup);
      this.perGroup.set(netgroup, this.countForGroup(netgroup) + 1);
    }
    this.total++;
    return 'ok';
  }

  release(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    const group = this.groupOfIp.get(ip);
    if (n <= 1) {
      this.perIp.delete(ip);
      this.groupOfIp.delete(ip);
    } else this.perIp.set(ip, n - 1);
    if (group !== undefined) {
      const g = this.countForGroup(group);
      if (g <= 1) this.perGroup.delete(group);
      else this.perGroup.set(group, g - 1);
    }
    this.total--;
  }

  countFor(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  countForGroup(netgroup: string): number {
    return this.perGroup.get(netgroup) ?? 0;
  }
}
