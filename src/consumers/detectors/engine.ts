/**
 * Runs detectors and the alert manager. Each detector gets its own bus
 * subscription to exactly its event types (no subscribe-all-then-switch); a
 * timer ticks detectors and the manager once a second.
 *
 * The clock is the events' clock: the latest event time seen plus the wall time
 * since it arrived, so a live run ticks in real time and a replayed archive in
 * its own time.
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import type { EventOrigin } from '../../events/envelope.js';
import type { EventType, ObserverEvent } from '../../events/types.js';
import { AlertManager, type AlertManagerOptions } from '../alerts/manager.js';
import type { Detector } from './types.js';

export class DetectorEngine {
  private readonly byType = new Map<EventType, Detector[]>();
  private lastEventUs = 0;
  private lastEventWallMs = 0;
  /** Detector exceptions (a bug, or input no one foresaw), by detector: counted, never fatal. */
  readonly errors: Record<string, number> = {};

  constructor(
    readonly detectors: readonly Detector[],
    readonly manager: AlertManager,
  ) {
    for (const d of detectors) {
      for (const t of d.eventTypes) {
        const list = this.byType.get(t) ?? [];
        list.push(d);
        this.byType.set(t, list);
      }
    }
  }

  /** The types the detectors need, together. */
  get eventTypes(): EventType[] {
    return [...this.byType.keys()];
  }

  /** Feed one event to one detector (the bus path: one subscription per detector). */
  observeWith(detector: Detector, event: ObserverEvent): void {
    if (event.timeUs > this.lastEventUs) {
      this.lastEventUs = event.timeUs;
      this.lastEventWallMs = Date.now();
    }
    let signals;
    try {
      signals = detector.observe(event);
    } catch {
      this.errors[detector.name] = (this.errors[detector.name] ?? 0) + 1;
      return;
    }
    for (const s of signals) this.manager.ingest(s);
  }

  /** Feed one event to every detector that wants its type (tests, replay). */
  process(event: ObserverEvent): void {
    for (const d of this.byType.get(event.type) ?? []) this.observeWith(d, event);
  }

  /** The engine's clock (µs). */
  now(wallMs = Date.now()): number {
    if (this.lastEventUs === 0) return wallMs * 1000;
    return this.lastEventUs + Math.max(0, wallMs - this.lastEventWallMs) * 1000;
  }

  tick(nowUs = this.now()): void {
    for (const d of this.detectors) {
      try {
        for (const s of d.tick(nowUs)) this.manager.ingest(s);
      } catch {
        this.errors[d.name] = (this.errors[d.name] ?? 0) + 1;
      }
      this.manager.setStateEvicted(d.name, d.stats().evicted);
    }
    this.manager.tick(nowUs);
  }
}

export interface StartDetectorsOptions {
  detectors: Detector[];
  alerts?: Partial<AlertManagerOptions>;
  /** Node id and source of the alert/incident events (source `detectors`). */
  origin: EventOrigin;
  tickMs?: number;
  /** Per-subscription queue bound. */
  maxQueue?: number;
}

export interface RunningDetectors {
  engine: DetectorEngine;
  manager: AlertManager;
  subscriptions: readonly Subscription[];
  /** Ends when the bus closes or stop() is called; a last tick publishes pending updates. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export function startDetectors(bus: Bus, options: StartDetectorsOptions): RunningDetectors {
  const manager = new AlertManager(options.origin, (e) => bus.publish(e), options.alerts);
  const engine = new DetectorEngine(options.detectors, manager);
  const subscriptions = options.detectors.map((d) => {
    const sub = bus.subscribe({ types: d.eventTypes, ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}) });
    const loop = (async () => {
      for await (const e of sub) engine.observeWith(d, e);
    })();
    return { sub, loop };
  });
  const timer = setInterval(() => engine.tick(), options.tickMs ?? 1000);
  timer.unref();
  const done = Promise.all(subscriptions.map((s) => s.loop)).then(() => {
    clearInterval(timer);
  });
  return {
    engine,
    manager,
    subscriptions: subscriptions.map((s) => s.sub),
    done,
    async stop() {
      clearInterval(timer);
      for (const s of subscriptions) s.sub.unsubscribe();
      await done;
    },
  };
}
