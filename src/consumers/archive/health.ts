/**
 * The archive's health, for /healthz and the `healthy` counter: ok, or the
 * reasons it is not, each one line an operator can act on.
 *
 * Not ok while:
 * - the writer thread stopped (it died WRITER_RESTARTS + 1 times in a row):
 *   nothing is being archived until the process restarts;
 * - a batch could not be committed (disk full, I/O error, a damaged file) in
 *   the last minute: a full disk lets small batches through now and then, so
 *   one success does not clear it. A full disk (SQLITE_FULL) says so;
 * - the archive's bus queue overflowed (events dropped) in the last minute.
 */
import type { WriterOutcome } from './writer-client.js';

export interface HealthStatus {
  ok: boolean;
  /** Empty when ok. */
  reasons: string[];
}

/** How long dropped events, or a batch that could not be written, keep the archive unhealthy. */
export const DROP_MEMORY_MS = 60_000;
export const FAILURE_MEMORY_MS = 60_000;

export class ArchiveHealth {
  /** Batches that could not be committed, ever. */
  writeErrors = 0;
  private stopped = false;
  /** Batches failed in the last minute: the last error, how many events, since and last when. */
  private failing: { error: string; code: string | undefined; events: number; sinceMs: number; lastMs: number; full: boolean } | undefined;
  private dropped = 0;
  private droppedAtMs: number | undefined;
  private droppedInWindow = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** A batch failed for a full disk (SQLITE_FULL) in the last minute. */
  get diskFull(): boolean {
    return this.recentFailure()?.full === true;
  }

  private recentFailure() {
    const f = this.failing;
    if (f && this.nowMs() - f.lastMs >= FAILURE_MEMORY_MS) this.failing = undefined;
    return this.failing;
  }

  /** A batch of `events` was answered. */
  settled(r: WriterOutcome, events: number): void {
    if (r.ok) return;
    this.writeErrors++;
    if (r.stopped) this.stopped = true;
    const now = this.nowMs();
    const f = this.recentFailure();
    if (f) f.events += events;
    this.failing = {
      error: r.error,
      code: r.code,
      events: f ? f.events : events,
      sinceMs: f ? f.sinceMs : now,
      lastMs: now,
      full: (f?.full ?? false) || r.code === 'SQLITE_FULL',
    };
  }

  /** The subscription's dropped counter now (called every 250 ms and by status()). */
  noteDropped(total: number): void {
    if (total > this.dropped) {
      const now = this.nowMs();
      if (this.droppedAtMs === undefined || now - this.droppedAtMs >= DROP_MEMORY_MS) this.droppedInWindow = 0;
      this.droppedInWindow += total - this.dropped;
      this.droppedAtMs = now;
      this.dropped = total;
    }
  }

  status(droppedTotal: number): HealthStatus {
    this.noteDropped(droppedTotal);
    const reasons: string[] = [];
    if (this.stopped) reasons.push('archive writer stopped after repeated failures: nothing is archived until a restart');
    const f = this.recentFailure();
    if (f && !this.stopped) {
      const since = new Date(f.sinceMs).toISOString();
      reasons.push(
        f.full
          ? `archive disk full: ${f.events} events not written since ${since} (${f.error})`
          : `archive writes failing: ${f.events} events not written since ${since} (${f.error})`,
      );
    }
    if (this.droppedAtMs !== undefined && this.nowMs() - this.droppedAtMs < DROP_MEMORY_MS) {
      reasons.push(`archive queue overflowed: ${this.droppedInWindow} events dropped in the last minute (${this.dropped} in all)`);
    }
    return { ok: reasons.length === 0, reasons };
  }
}
