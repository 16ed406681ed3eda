/**
 * Ping bookkeeping for one peer, as Core keeps it: at most one ping outstanding,
 * a new one only after PING_INTERVAL with none outstanding, latency measured on
 * the matching pong, the peer dropped when a ping stays unanswered for the ping
 * timeout. Time is passed in (milliseconds, monotonic): no timers here.
 */
import { randomBytes } from 'node:crypto';

/** A random non-zero 64-bit nonce (Core treats a zero pong nonce as "cancel"). */
export function randomNonce(): bigint {
  for (;;) {
    const n = randomBytes(8).readBigUInt64LE(0);
    if (n !== 0n) return n;
  }
}

export type PongResult =
  | { kind: 'latency'; nonce: bigint; latencyMs: number }
  /** Core: "Unsolicited pong without ping". */
  | { kind: 'unsolicited'; nonce: bigint }
  /** Core: "Nonce mismatch" (normal when pings overlap; the ping stays outstanding). */
  | { kind: 'mismatch'; nonce: bigint; expected: bigint }
  /** Core: "Nonce zero": a buggy peer; the ping is cancelled. */
  | { kind: 'zero'; expected: bigint };

export class PingTracker {
  private nonce = 0n;
  private startedMs = 0;
  private lastStartMs = -Infinity;

  /** True while a ping awaits its pong. */
  get outstanding(): boolean {
    return this.nonce !== 0n;
  }

  /** A new ping is due: none outstanding and the interval has passed since the last. */
  due(nowMs: number, intervalMs: number): boolean {
    return !this.outstanding && nowMs - this.lastStartMs >= intervalMs;
  }

  /** Record a ping being sent; returns its nonce. */
  start(nowMs: number, nonce = randomNonce()): bigint {
    this.nonce = nonce;
    this.startedMs = nowMs;
    this.lastStartMs = nowMs;
    return nonce;
  }

  /** The outstanding ping is older than the timeout. */
  timedOut(nowMs: number, timeoutMs: number): boolean {
    return this.outstanding && nowMs - this.startedMs >= timeoutMs;
  }

  /** How long the outstanding ping has waited. */
  waitingMs(nowMs: number): number {
    return this.outstanding ? nowMs - this.startedMs : 0;
  }

  pong(nonce: bigint, nowMs: number): PongResult {
    if (this.nonce === 0n) return { kind: 'unsolicited', nonce };
    if (nonce === this.nonce) {
      this.nonce = 0n;
      return { kind: 'latency', nonce, latencyMs: Math.max(0, nowMs - this.startedMs) };
    }
    if (nonce === 0n) {
      const expected = this.nonce;
      this.nonce = 0n;
      return { kind: 'zero', expected };
    }
    return { kind: 'mismatch', nonce, expected: this.nonce };
  }
}
