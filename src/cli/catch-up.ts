/**
 * An archive reading a backlog from its JetStream stream (started late,
 * restarted, behind after an outage) says so on stderr: every interval one
 * line with how many messages wait in the stream for it, how fast it writes,
 * and at that pace how long until it is caught up; then one line when it is
 * (nothing left in the stream for it, and everything delivered committed).
 * Nothing is printed while it keeps up, nor over core NATS (no stream).
 */
import type { Component, ComponentContext } from '../runtime/component.js';

export const DEFAULT_CATCH_UP_INTERVAL_MS = 10_000;

export interface CatchUpSource {
  /** Messages in the stream not yet delivered to the consumer; undefined without a stream. */
  behind(): number | undefined;
  /** Messages acknowledged so far (each after its events were committed). */
  acked(): number;
  /** Messages delivered whose events are not all committed yet. */
  unwritten(): number;
  /** Events written so far. */
  written(): number;
  stream(): string;
}

export class CatchUpReporter implements Component {
  readonly name = 'catch-up';
  private timer: NodeJS.Timeout | undefined;
  private last = { at: 0, acked: 0, written: 0 };
  private catchingUp = false;

  constructor(
    private readonly progress: CatchUpSource,
    private readonly intervalMs = DEFAULT_CATCH_UP_INTERVAL_MS,
  ) {}

  start(context: ComponentContext): void {
    this.last = { at: Date.now(), acked: this.progress.acked(), written: this.progress.written() };
    this.timer = setInterval(() => this.tick(context.notice), this.intervalMs);
    this.timer.unref();
  }

  /** One look: a progress line while behind, one line on catching up. */
  tick(notice: (line: string) => void, now = Date.now()): void {
    const behind = this.progress.behind();
    if (behind === undefined) return;
    const acked = this.progress.acked();
    const written = this.progress.written();
    const seconds = Math.max(1e-3, (now - this.last.at) / 1000);
    const eventsPerSec = (written - this.last.written) / seconds;
    const messagesPerSec = (acked - this.last.acked) / seconds;
    this.last = { at: now, acked, written };
    if (behind > 0) {
      this.catchingUp = true;
      const eta = messagesPerSec > 0 ? `, about ${duration(behind / messagesPerSec)} to go at this pace` : ', not moving';
      notice(
        `archive: catching up: ${behind.toLocaleString('en-US')} messages behind in stream ${this.progress.stream()}; ` +
          `writing ${Math.round(eventsPerSec).toLocaleString('en-US')} events/s${eta}`,
      );
    } else if (this.catchingUp && this.progress.unwritten() === 0) {
      this.catchingUp = false;
      notice(`archive: caught up with stream ${this.progress.stream()} (${written.toLocaleString('en-US')} events written in all)`);
    }
  }

  counters(): Record<string, number> {
    return {};
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** `45 s`, `12 min`, `3.5 h`. */
export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
