/**
 * The runtime: starts a plan (the bus, then components in order), publishes
 * every started component's counters from one timer, and stops the started
 * ones in reverse — on a start-up failure as on shutdown — within one
 * shutdown deadline, each stop() getting a share of what is left of it.
 *
 * Sources come last in a plan and so stop first: consumers then take what
 * was published before they stop, and the bus, stopped after them, delivers
 * what is still queued (the logger prints it, NATS takes it). Sinks (the
 * archive: it keeps every event, the last counters included) stop after the
 * bus, once it has delivered everything to them.
 */
import type { Bus } from '../bus/bus.js';
import { makeEvent } from '../events/envelope.js';
import { flattenCounters, type BusComponent, type Component, type ComponentContext } from './component.js';

export interface Plan {
  bus: BusComponent;
  /** In start order; stopped in reverse. */
  components: readonly Component[];
}

export interface RuntimeOptions {
  /** The node id of every counters event. */
  nodeId: string;
  /** How often every component's counters are published (default 10 s; 0: only the final ones at stop). */
  countersIntervalMs?: number;
  /** False: publish no counters at all (a reader that only prints, `log`, adds nothing to the bus it reads). */
  publishCounters?: boolean;
  /** The whole shutdown's deadline (default 2 s): each stop() gets a share of what is left; one that overruns is reported and left behind. */
  shutdownMs?: number;
  /** Operator notices (a component that overran its share, a stop that failed). */
  notice?: (line: string) => void;
}

export const DEFAULT_COUNTERS_INTERVAL_MS = 10_000;
export const DEFAULT_SHUTDOWN_MS = 2_000;

/** How a shutdown went: the components that overran their share or whose stop() threw, in stop order. */
export interface ShutdownReport {
  stopped: string[];
  overran: string[];
  failed: { name: string; error: unknown }[];
}

const TIMED_OUT = Symbol('timed out');

/** `work` or TIMED_OUT after `ms`, whichever comes first; a rejection is returned, not thrown. */
async function within(work: () => void | Promise<void>, ms: number): Promise<typeof TIMED_OUT | { error: unknown } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, ms))));
  const run = (async () => {
    try {
      await work();
      return undefined;
    } catch (error) {
      return { error };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class Runtime {
  readonly bus: Bus;
  readonly #plan: Plan;
  readonly #started: Component[];
  readonly #controller: AbortController;
  readonly #options: RuntimeOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<ShutdownReport> | undefined;

  private constructor(plan: Plan, started: Component[], controller: AbortController, options: RuntimeOptions) {
    this.bus = plan.bus.bus;
    this.#plan = plan;
    this.#started = started;
    this.#controller = controller;
    this.#options = options;
    const every = options.publishCounters === false ? 0 : (options.countersIntervalMs ?? DEFAULT_COUNTERS_INTERVAL_MS);
    if (every > 0) this.#timer = setInterval(() => this.publishCounters(), every).unref();
  }

  /**
   * Start the bus, then each component in plan order. When a step throws, the
   * components started so far (and the one that threw) are stopped in reverse,
   * then the bus, and the step's error is rethrown unchanged.
   */
  static async start(plan: Plan, options: RuntimeOptions): Promise<Runtime> {
    const names = new Set<string>([plan.bus.name]);
    for (const c of plan.components) {
      if (names.has(c.name)) throw new Error(`runtime: two components named ${c.name}`);
      names.add(c.name);
    }
    const controller = new AbortController();
    const notice = options.notice ?? (() => {});
    const started: Component[] = [];
    let busStarted = false;
    try {
      busStarted = true;
      await plan.bus.start({ signal: controller.signal, notice });
      const context: ComponentContext = { bus: plan.bus.bus, signal: controller.signal, notice };
      for (const c of plan.components) {
        // Listed before start() runs: a start that throws half-way is stopped too.
        started.push(c);
        await c.start(context);
      }
    } catch (err) {
      controller.abort();
      await shutdown(started, busStarted ? plan.bus : undefined, options, false);
      throw err;
    }
    return new Runtime(plan, started, controller, options);
  }

  /** The components started, in start order (the bus not included). */
  get components(): readonly Component[] {
    return this.#started;
  }

  /** One `pipeline.counters` event per started component, then the bus's. Safe at any time; a bus that refuses is ignored. */
  publishCounters(): void {
    for (const c of this.#started) publishCountersOf(this.bus, c, this.#options.nodeId);
    publishCountersOf(this.bus, this.#plan.bus, this.#options.nodeId);
  }

  /**
   * Stop in reverse within the shutdown deadline; after each component's
   * stop() its final counters are published, and the bus's just before the
   * bus stops. Idempotent.
   */
  stop(): Promise<ShutdownReport> {
    return (this.#stopping ??= (async () => {
      clearInterval(this.#timer);
      this.#controller.abort();
      return shutdown(this.#started, this.#plan.bus, this.#options, this.#options.publishCounters !== false);
    })());
  }
}

function publishCountersOf(bus: Bus, c: Component | BusComponent, nodeId: string): void {
  try {
    const counters = flattenCounters(c.counters());
    // A part with nothing to count (not started, or idle in this mode) publishes nothing.
    if (Object.keys(counters).length === 0) return;
    bus.publish(makeEvent({ nodeId, source: c.source ?? c.name.split('.')[0]! }, 'pipeline.counters', { stage: c.name, counters }));
  } catch {
    // The bus is closed or closing, or counters() failed: nothing to publish into.
  }
}

async function shutdown(
  started: readonly Component[],
  bus: BusComponent | undefined,
  options: RuntimeOptions,
  finalCounters: boolean,
): Promise<ShutdownReport> {
  const notice = options.notice ?? (() => {});
  const deadline = performance.now() + (options.shutdownMs ?? DEFAULT_SHUTDOWN_MS);
  const report: ShutdownReport = { stopped: [], overran: [], failed: [] };
  // Sources (last in the plan) first; then the consumers, each after the bus delivered it what was published
  // before; the bus; then the sinks, which take what the bus delivers as it closes.
  const reversed = [...started].reverse();
  const order: (Component | BusComponent)[] = [
    ...reversed.filter((c) => !c.sink),
    ...(bus ? [bus] : []),
    ...reversed.filter((c) => c.sink),
  ];
  for (let i = 0; i < order.length; i++) {
    const c = order[i]!;
    if (finalCounters && bus && c === bus) {
      for (const s of reversed) if (s.sink) publishCountersOf(bus.bus, s, options.nodeId);
      publishCountersOf(bus.bus, bus, options.nodeId);
    }
    const share = (deadline - performance.now()) / (order.length - i);
    const outcome = await within(() => c.stop(), share);
    report.stopped.push(c.name);
    if (outcome === TIMED_OUT) {
      report.overran.push(c.name);
      notice(`${c.name} did not stop within its share of the ${options.shutdownMs ?? DEFAULT_SHUTDOWN_MS} ms shutdown deadline; going on`);
    } else if (outcome) {
      report.failed.push({ name: c.name, error: outcome.error });
      notice(`${c.name}: stopping failed: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`);
    }
    if (finalCounters && bus && c !== bus && !c.sink) publishCountersOf(bus.bus, c, options.nodeId);
  }
  return report;
}
