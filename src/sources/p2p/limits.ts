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

export type AdmitResult = 'ok' | 'total' | 'per-ip';

/**
 * Counts inbound connections in total and per source address. Its state is one
 * map entry per address currently connected, removed when the last one goes, so
 * it is bounded by `maxConnections`.
 */
export class ConnectionLimiter {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<ObserverLimits, 'maxConnections' | 'maxPerIp'>) {}

  get size(): number {
    return this.total;
  }

  /** Take a slot for `ip`, or say which limit refuses it. */
  admit(ip: string): AdmitResult {
    if (this.total >= this.limits.maxConnections) return 'total';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.limits.maxPerIp) return 'per-ip';
    this.perIp.set(ip, n + 1);
    this.total++;
    return 'ok';
  }

  release(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
    this.total--;
  }

  countFor(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }
}
