/**
 * One lifecycle for every long-lived part of a command: a source, a consumer,
 * the HTTP server, the bus itself. A component is started once with the bus
 * and an abort signal, reports its counters when asked, and is stopped once.
 * The runtime (runtime.ts) starts a plan of them in order, stops them in
 * reverse, and publishes every component's counters from one timer.
 */
import type { Bus } from '../bus/bus.js';

/**
 * A component's running totals: numbers, or groups of numbers. The runtime
 * publishes them flat (`{refused: {replay: 1}}` → `refused.replay`) as one
 * `pipeline.counters` event whose stage is the component's name.
 */
export interface Counters {
  readonly [name: string]: number | Counters;
}

export interface StartContext {
  /** Aborted when the runtime begins to stop, or when start-up failed: stop taking new work. */
  signal: AbortSignal;
  /** One line for the operator (stderr), prefixed by the caller. */
  notice(line: string): void;
}

export interface ComponentContext extends StartContext {
  /** The plan's bus, open from before the first component starts until after the last one stopped. */
  bus: Bus;
}

export interface Component<C extends StartContext = ComponentContext> {
  /** The stage of its `pipeline.counters` events (`p2p.observer`, `archive`, ...); unique within a plan. */
  readonly name: string;
  /** The `source` of its counters events (default: the name up to its first dot). */
  readonly source?: string;
  /**
   * Acquire what the component needs (sockets, timers, threads) and begin.
   * When it throws, the runtime still calls stop(): a component releases
   * whatever it had acquired before the failure there.
   */
  start(context: C): void | Promise<void>;
  /**
   * A sink keeps every event, the last counters of the others included (the archive): the runtime stops it after
   * the bus has closed and delivered everything to it, and publishes its counters just before the bus closes.
   */
  readonly sink?: boolean;
  /** Cheap, synchronous, callable before start and after stop (zeros, or the last values). */
  counters(): Counters;
  /** Release everything start acquired. Called once; safe after a start that threw or never ran. */
  stop(): void | Promise<void>;
}

/** The component that opens the bus the others are given: first to start, last to stop. */
export interface BusComponent extends Component<StartContext> {
  /** The bus; valid once start() resolved. */
  readonly bus: Bus;
}

/** Flatten counters into the `{ name: number }` a `pipeline.counters` event holds; non-finite values are left out. */
export function flattenCounters(counters: Counters, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out[prefix + k] = v;
    } else if (v !== null && typeof v === 'object') {
      flattenCounters(v, `${prefix}${k}.`, out);
    }
  }
  return out;
}
