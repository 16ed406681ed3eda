/**
 * The archive's health, for /healthz and the `healthy` counter: ok, or the
 * reasons it is not, each one line an operator can act on.
 *
 * Not ok while:
 * - the writer thread stopped (it died WRITER_RESTARTS + 1 times in a row):
 *   nothing is being archived until the process restarts;
 * - the last batch could not be committed (disk full, I/O error, a damaged
 *   file): until a batch commits again. A full disk (SQLITE_FULL) says so;
 * - the archive's bus queue overflowed (events dropped) in the last minute.
 */
import type { WriterOutcome } from './writer-client.js';

export interface HealthStatus {
  ok: boolean;
  /** Empty when ok. */
  reasons: string[];
}

/** How long dropped events keep the archive unhealthy. */
export const DROP_MEMORY_MS = 60_000;

export class ArchiveHealth {
  /** Batches that could not be committed, ever. */
  writeErrors = 0;
  private stopped = false;
  /** The last batch failed: why, how many events since, and when. */
  private failing: { error: string; code: string | undefined; events: number; sinceMs: number } | undefined;
  private dropped = 0;
  private droppedAtMs: number | undefined;
  private droppedInWindow = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  get diskFull(): boolean {
    return this.failing?.code === 'SQLITE_FULL';
  }

  /** A batch of `events` was answered. */
  settled(r: WriterOutcome, events: number): void {
    if (r.ok) {
      this.failing = undefined;
      return;
    }
    this.writeErrors++;
    if (r.stopped) this.stopped = true;
    if (this.failing) this.failing.events += events;
    else this.failing = { error: r.error, code: r.code, events, sinceMs: this.nowMs() };
    if (r.code !== undefined) this.failing.code = r.code;
    this.failing.error = r.error;
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
    const f = this.failing;
    if (f && !this.stopped) {
      const since = new Date(f.sinceMs).toISOString();
      reasons.push(
        f.code === 'SQLITE_FULL'
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
