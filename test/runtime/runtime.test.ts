/**
 * The runtime's own rules, on the real embedded bus with components written for
 * the test (each records what the runtime asked of it): start order, reverse
 * stop on a failure at every step, one counters timer, final counters after
 * each stop, sinks after the bus, and the shutdown deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { flattenCounters, type BusComponent, type Component, type ComponentContext } from '../../src/runtime/component.js';

class TestBus implements BusComponent {
  readonly name = 'bus';
  #bus: EmbeddedBus | undefined;
  /** Every event the bus carried, in order (a subscriber of everything, as the logger is). */
  readonly seen: ObserverEvent[] = [];
  #reader: Promise<void> | undefined;
  constructor(private readonly log: string[]) {}
  get bus(): EmbeddedBus {
    return this.#bus!;
  }
  start(): void {
    this.log.push('start bus');
    this.#bus = new EmbeddedBus();
    const sub = this.#bus.subscribe();
    this.#reader = (async () => {
      for await (const e of sub) this.seen.push(e);
    })();
  }
  counters() {
    return { published: this.#bus?.stats().published ?? 0 };
  }
  async stop(): Promise<void> {
    this.log.push('stop bus');
    await this.#bus?.close();
    await this.#reader;
  }
  stagesSeen(): string[] {
    return this.seen.flatMap((e) => (e.type === 'pipeline.counters' ? [e.data.stage] : []));
  }
}

class Part implements Component {
  ticks = 0;
  signal: AbortSignal | undefined;
  constructor(
    readonly name: string,
    private readonly log: string[],
    private readonly behaviour: { failStart?: boolean; stopMs?: number; sink?: boolean } = {},
  ) {}
  get sink(): boolean {
    return this.behaviour.sink ?? false;
  }
  start(context: ComponentContext): void {
    this.log.push(`start ${this.name}`);
    this.signal = context.signal;
    if (this.behaviour.failStart) throw new Error(`${this.name} cannot start`);
  }
  counters() {
    return { ticks: ++this.ticks, nested: { value: 7 } };
  }
  async stop(): Promise<void> {
    this.log.push(`stop ${this.name}`);
    if (this.behaviour.stopMs) await new Promise((r) => setTimeout(r, this.behaviour.stopMs));
  }
}

test('starts the bus then the plan in order, and stops in reverse with each final counters event after its stop', async () => {
  const log: string[] = [];
  const bus = new TestBus(log);
  const parts = ['a', 'b', 'c'].map((n) => new Part(n, log));
  const runtime = await Runtime.start({ bus, components: parts }, { nodeId: 'n1', countersIntervalMs: 0 });
  assert.deepEqual(log, ['start bus', 'start a', 'start b', 'start c']);
  assert.equal(parts[0]!.signal!.aborted, false);
  const report = await runtime.stop();
  assert.deepEqual(log.slice(4), ['stop c', 'stop b', 'stop a', 'stop bus']);
  assert.deepEqual(report, { stopped: ['c', 'b', 'a', 'bus'], overran: [], failed: [] });
  assert.equal(parts[0]!.signal!.aborted, true, 'the components are told to stop taking work');
  // One final counters event per component, in stop order, then the bus's own.
  assert.deepEqual(bus.stagesSeen(), ['c', 'b', 'a', 'bus']);
  const c = bus.seen.find((e) => e.type === 'pipeline.counters' && e.data.stage === 'c')!;
  assert.equal(c.nodeId, 'n1');
  assert.equal(c.source, 'c');
  assert.deepEqual(c.type === 'pipeline.counters' && c.data.counters, { ticks: 1, 'nested.value': 7 });
  assert.deepEqual(await runtime.stop(), report, 'stop is idempotent');
  assert.deepEqual(log.slice(8), [], 'and stops nothing twice');
});

test('a failure at each start-up step stops what had started (and the failing one) in reverse, then the bus, and rethrows', async () => {
  for (let failAt = 0; failAt < 3; failAt++) {
    const log: string[] = [];
    const bus = new TestBus(log);
    const parts = ['a', 'b', 'c'].map((n, i) => new Part(n, log, { failStart: i === failAt }));
    await assert.rejects(Runtime.start({ bus, components: parts }, { nodeId: 'n1' }), { message: `${parts[failAt]!.name} cannot start` });
    const started = parts.slice(0, failAt + 1).map((p) => p.name);
    assert.deepEqual(log, [
      'start bus',
      ...started.map((n) => `start ${n}`),
      ...[...started].reverse().map((n) => `stop ${n}`),
      'stop bus',
    ]);
    assert.equal(parts[0]!.signal!.aborted, true);
    assert.deepEqual(bus.stagesSeen(), [], 'no counters from a plan that never ran');
  }
});

test('a bus that cannot start is stopped too, and no component starts', async () => {
  const log: string[] = [];
  const bus = new TestBus(log);
  bus.start = () => {
    log.push('start bus');
    throw new Error('no server');
  };
  await assert.rejects(Runtime.start({ bus, components: [new Part('a', log)] }, { nodeId: 'n1' }), /no server/);
  assert.deepEqual(log, ['start bus', 'stop bus']);
});

test('one timer publishes every component counters at the one interval', async () => {
  const log: string[] = [];
  const bus = new TestBus(log);
  const runtime = await Runtime.start(
    { bus, components: [new Part('a', log), new Part('b', log)] },
    { nodeId: 'n1', countersIntervalMs: 20 },
  );
  while (bus.stagesSeen().length < 6) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(bus.stagesSeen().slice(0, 6), ['a', 'b', 'bus', 'a', 'b', 'bus']);
  await runtime.stop();
});

test('a sink stops after the bus, and its last counters go out before the bus closes', async () => {
  const log: string[] = [];
  const bus = new TestBus(log);
  const parts = [new Part('archive', log, { sink: true }), new Part('source', log)];
  const runtime = await Runtime.start({ bus, components: parts }, { nodeId: 'n1', countersIntervalMs: 0 });
  await runtime.stop();
  assert.deepEqual(log.slice(3), ['stop source', 'stop bus', 'stop archive']);
  assert.deepEqual(bus.stagesSeen(), ['source', 'archive', 'bus']);
});

test('a stop that overruns its share of the deadline is reported and the others still stop', async () => {
  const log: string[] = [];
  const notices: string[] = [];
  const bus = new TestBus(log);
  // `slow` would take 1.5 s; the whole shutdown has 300 ms.
  const parts = [new Part('a', log), new Part('slow', log, { stopMs: 1500 }), new Part('c', log)];
  const runtime = await Runtime.start(
    { bus, components: parts },
    { nodeId: 'n1', countersIntervalMs: 0, shutdownMs: 300, notice: (l) => notices.push(l) },
  );
  const report = await runtime.stop();
  assert.deepEqual(report.overran, ['slow']);
  assert.deepEqual(report.stopped, ['c', 'slow', 'a', 'bus']);
  assert.match(notices.join('\n'), /slow did not stop within its share of the 300 ms shutdown deadline/);
  assert.deepEqual(bus.stagesSeen(), ['c', 'slow', 'a', 'bus'], 'its last counters are published all the same');
});

test('a stop that throws is reported; the shutdown goes on', async () => {
  const log: string[] = [];
  const notices: string[] = [];
  const bus = new TestBus(log);
  const bad = new Part('bad', log);
  bad.stop = () => Promise.reject(new Error('socket already gone'));
  const runtime = await Runtime.start({ bus, components: [new Part('a', log), bad] }, { nodeId: 'n1', notice: (l) => notices.push(l) });
  const report = await runtime.stop();
  assert.deepEqual(
    report.failed.map((f) => f.name),
    ['bad'],
  );
  assert.deepEqual(report.stopped, ['bad', 'a', 'bus']);
  assert.match(notices.join('\n'), /bad: stopping failed: socket already gone/);
});

test('two components with one name are refused before anything starts', async () => {
  const log: string[] = [];
  await assert.rejects(
    Runtime.start({ bus: new TestBus(log), components: [new Part('a', log), new Part('a', log)] }, { nodeId: 'n1' }),
    /two components named a/,
  );
  assert.deepEqual(log, []);
});

test('flattenCounters: dotted names, finite numbers only', () => {
  assert.deepEqual(flattenCounters({ a: 1, b: { c: 2, d: { e: 3 } }, f: Number.NaN, g: Infinity }), { a: 1, 'b.c': 2, 'b.d.e': 3 });
});
