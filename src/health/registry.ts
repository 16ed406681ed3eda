/**
 * What `/healthz` reports: `ok`, or `degraded` with the reasons. Components
 * report into one registry per process:
 *
 * - `failing(component, reason)` … `recovered(component)`: a state that lasts
 *   (the archive cannot write; a source lost its node);
 * - `failed(component, reason)`: a one-off failure (one batch not written),
 *   degraded for `windowMs` after the last one;
 * - `watchDrops(component, read)`: a counter of things lost (a bus
 *   subscriber's dropped events): degraded while it rose within `windowMs`.
 *
 * Counters are sampled every `windowMs / 4` and on every check, so a rise is
 * dated within a quarter window however rarely /healthz is polled. Nothing
 * here grows with traffic: one entry per component.
 */

export interface HealthReason {
  component: string;
  reason: string;
  /** When this became true (ISO 8601). */
  since: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: HealthReason[];
}

export interface HealthRegistryOptions {
  /** How long a one-off failure or a drop keeps the status degraded. Default 60 s. */
  windowMs?: number;
  now?: () => number;
}

interface Watched {
  read: () => number;
  what: string;
  last: number;
  /** The counter's value when the current degraded spell began (to say how many in the spell). */
  spellStart: number;
  lastRise: number | undefined;
  firstRise: number | undefined;
}

export class HealthRegistry {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly states = new Map<string, { reason: string; since: number }>();
  private readonly failures = new Map<string, { reason: string; since: number; last: number; count: number }>();
  private readonly watched = new Map<string, Watched>();
  private readonly probes = new Map<string, { read: () => { ok: boolean; reasons: string[] }; since: number | undefined }>();
  private readonly timer: NodeJS.Timeout;

  constructor(options: HealthRegistryOptions = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.sample(), Math.max(250, this.windowMs / 4)).unref();
  }

  /** `component` is failing until `recovered(component)`; a new reason replaces the old one (its start time kept). */
  failing(component: string, reason: string): void {
    const since = this.states.get(component)?.since ?? this.now();
    this.states.set(component, { reason, since });
  }

  recovered(component: string): void {
    this.states.delete(component);
  }

  /** A one-off failure: degraded for the window after the last one. */
  failed(component: string, reason: string): void {
    const now = this.now();
    const prev = this.failures.get(component);
    const fresh = !prev || now - prev.last > this.windowMs;
    this.failures.set(component, { reason, since: fresh ? now : prev.since, last: now, count: fresh ? 1 : prev.count + 1 });
  }

  /** A monotonic counter of things lost (`what`: "events dropped"): degraded while it rose within the window. */
  watchDrops(component: string, read: () => number, what = 'events dropped'): void {
    const value = read();
    this.watched.set(component, { read, what, last: 0, spellStart: 0, lastRise: undefined, firstRise: undefined });
    // What was lost before the watch began counts as a rise now.
    this.sampleOne(this.watched.get(component)!, value);
  }

  /** A component that judges its own health (the archive: health.ts); asked on every check. */
  probe(component: string, read: () => { ok: boolean; reasons: string[] }): void {
    this.probes.set(component, { read, since: undefined });
  }

  check(): HealthReport {
    this.sample();
    const now = this.now();
    const reasons: HealthReason[] = [];
    const at = (t: number) => new Date(t).toISOString();
    for (const [component, p] of this.probes) {
      let status: { ok: boolean; reasons: string[] };
      try {
        status = p.read();
      } catch (e) {
        status = { ok: false, reasons: [`health probe failed: ${(e as Error).message}`] };
      }
      if (status.ok) {
        p.since = undefined;
        continue;
      }
      p.since ??= now;
      for (const reason of status.reasons.length ? status.reasons : ['not ok']) reasons.push({ component, reason, since: at(p.since) });
    }
    for (const [component, s] of this.states) reasons.push({ component, reason: s.reason, since: at(s.since) });
    for (const [component, f] of this.failures) {
      if (now - f.last > this.windowMs) continue;
      const times = f.count > 1 ? ` (${f.count} times since)` : '';
      reasons.push({ component, reason: `${f.reason}${times}`, since: at(f.since) });
    }
    for (const [component, w] of this.watched) {
      if (w.lastRise === undefined || now - w.lastRise > this.windowMs) continue;
      const seconds = Math.round(this.windowMs / 1000);
      reasons.push({
        component,
        reason: `${w.last - w.spellStart} ${w.what} (${w.last} in all), the last within ${seconds} s`,
        since: at(w.firstRise!),
      });
    }
    return { status: reasons.length ? 'degraded' : 'ok', reasons };
  }

  /** Stop the sampler (the process is ending). */
  close(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const w of this.watched.values()) {
      let value: number;
      try {
        value = w.read();
      } catch {
        continue;
      }
      this.sampleOne(w, value);
    }
  }

  private sampleOne(w: Watched, value: number): void {
    if (!(value > w.last)) return;
    const now = this.now();
    if (w.lastRise === undefined || now - w.lastRise > this.windowMs) {
      w.spellStart = w.last;
      w.firstRise = now;
    }
    w.last = value;
    w.lastRise = now;
  }
}
