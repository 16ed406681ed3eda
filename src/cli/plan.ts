/**
 * `run` and `demo` as a plan for the runtime (src/runtime/): the bus (embedded
 * with the logger, or NATS), /healthz's registry, the archive, the detectors
 * and alerts, the collective, the HTTP service, the connectivity check, the
 * p2p observer, then the Core sources. Consumers come before sources, so they
 * are subscribed before the first event and, stopping after the sources, take
 * everything published before they go. Each component here adapts one part's
 * own start/stop to the contract and gives the runtime its counters.
 */
import { EmbeddedBus, busCounters } from '../bus/embedded.js';
import { NatsBus } from '../bus/nats.js';
import type { Bus } from '../bus/bus.js';
import { startArchive, type Archive, type ArchiveOptions } from '../consumers/archive/consumer.js';
import { startConnectivity, type ConnectivityCheck } from '../consumers/connectivity/consumer.js';
import { startLogger, type Logger } from '../consumers/logger/logger.js';
import { startAlerting, type Alerting } from '../consumers/detectors/alerting.js';
import { startObserver, observerCounters, type Observer } from '../sources/p2p/observer.js';
import { HealthRegistry } from '../health/registry.js';
import { startHttpService, type HttpService } from '../http/service.js';
import { startCollective, type Collective } from '../collective/member.js';
import { withCollectiveAlerts } from '../collective/store.js';
import type { BusComponent, Component, ComponentContext, Counters, StartContext } from '../runtime/component.js';
import { DEFAULT_COUNTERS_INTERVAL_MS, type Plan } from '../runtime/runtime.js';
import { RuntimeError, describeError } from './errors.js';
import type { DurableFanout } from '../bus/fanout.js';
import { consumerCounters, consumerExitLine, consumerHealth, openRunConsumer, watchConsumer } from './run-consumer.js';
import type { Io, PipelineOptions } from './pipeline.js';
import type { Endpoint } from './config.js';

function unstarted(name: string): never {
  throw new Error(`${name} is not started`);
}

/** The embedded bus with the logger subscribed: everything in one process. */
export class EmbeddedBusComponent implements BusComponent {
  readonly name = 'bus';
  #bus: EmbeddedBus | undefined;
  #logger: Logger | undefined;
  constructor(
    private readonly io: Io,
    private readonly json: boolean,
  ) {}
  get bus(): EmbeddedBus {
    return this.#bus ?? unstarted(this.name);
  }
  start(): void {
    this.#bus = new EmbeddedBus();
    this.#logger = startLogger(this.#bus, this.io.stdout, { json: this.json });
  }
  counters(): Counters {
    return this.#bus ? busCounters(this.#bus.stats()) : {};
  }
  /** Events a subscriber's full queue refused: /healthz is degraded while they rise. */
  drops(): number {
    const s = this.#bus?.stats();
    return s ? s.dropped : 0;
  }
  health(): Record<string, unknown> {
    return {};
  }
  /** Close the bus and wait until the logger printed what was queued. */
  async stop(): Promise<void> {
    await this.#bus?.close();
    await this.#logger?.done;
  }
}

/**
 * NATS: the events go to the servers, for consumers elsewhere (`peer-observer log`, `archive`). In JetStream
 * mode this process's own consumers read the stream through one durable consumer (run-consumer.ts), shared by
 * a DurableFanout: what they publish goes to NATS and comes back once, through the stream.
 */
export class NatsBusComponent implements BusComponent {
  readonly name = 'bus.nats';
  readonly source = 'bus';
  #bus: NatsBus | undefined;
  #fanout: DurableFanout | undefined;
  constructor(private readonly options: PipelineOptions) {}
  get bus(): NatsBus | DurableFanout {
    return this.#fanout ?? this.#bus ?? unstarted(this.name);
  }
  /** The durable consumer the consumers here read, in JetStream mode. */
  get fanout(): DurableFanout | undefined {
    return this.#fanout;
  }
  /** Begin delivering the stream to the consumers (once every one has subscribed). */
  startConsumers(): void {
    this.#fanout?.start();
  }
  async start(context: StartContext): Promise<void> {
    const o = this.options;
    try {
      this.#bus = await NatsBus.connect({
        servers: o.nats!,
        name: `peer-observer run ${o.nodeId}`,
        ...(o.natsEncoding ? { encoding: o.natsEncoding } : {}),
        ...(o.natsMode ? { mode: o.natsMode } : {}),
      });
    } catch (err) {
      throw new RuntimeError(describeError(err));
    }
    context.notice(this.#bus.notice);
    const bus = this.#bus;
    if (bus.mode !== 'jetstream' || !o.stream) return;
    try {
      this.#fanout = await openRunConsumer(bus, o.nats!, o.stream);
      context.notice(this.#fanout.durable.notice);
    } catch (err) {
      // A process of consumers only needs its durable consumer; an observer (whose NATS user may publish only) goes on.
      if (o.p2p === false) throw new RuntimeError(describeError(err));
      context.notice(
        `${describeError(err)}: the consumers here subscribe to NATS directly (core: they miss what is published while they are away)`,
      );
    }
  }
  counters(): Counters {
    if (!this.#bus) return {};
    return { ...this.#bus.counterValues(), ...(this.#fanout ? consumerCounters(this.#fanout) : {}) };
  }
  drops(): number {
    const c = this.#bus?.counterValues();
    return c ? (c.dropped ?? 0) + (c.subscriberDropped ?? 0) : 0;
  }
  /** For /healthz: NATS mode, connection and the JetStream stream's state (what its limits removed). */
  health(): Record<string, unknown> {
    if (!this.#bus) return {};
    const s = this.#bus.stats();
    const consumer = this.#fanout ? { consumer: consumerHealth(this.#fanout) } : {};
    return { nats: { mode: this.#bus.mode, connected: s.connected, dropped: s.dropped, stream: s.stream, ...consumer } };
  }
  /** Flush to the server, then say what went where. */
  async stop(): Promise<void> {
    const bus = this.#bus;
    if (!bus) return;
    const fanout = this.#fanout;
    await fanout?.close();
    await bus.close();
    if (fanout) this.options.io.stderr.write(consumerExitLine(fanout));
    const s = bus.stats();
    this.options.io.stderr.write(
      `peer-observer: nats: published=${s.published} sent=${s.sent} buffered=${s.buffered} dropped=${s.dropped} reconnects=${s.reconnects}\n`,
    );
  }
}

type PlanBus = EmbeddedBusComponent | NatsBusComponent;

/** What /healthz reports: components report failures here (health/registry.ts). */
export class HealthComponent implements Component {
  readonly name = 'health';
  #registry: HealthRegistry | undefined;
  constructor(private readonly bus: PlanBus) {}
  get registry(): HealthRegistry {
    return this.#registry ?? unstarted(this.name);
  }
  start(): void {
    this.#registry = new HealthRegistry();
    // Events a consumer could not take (its queue was full) or NATS could not send.
    this.#registry.watchDrops('bus', () => this.bus.drops());
    const fanout = this.bus instanceof NatsBusComponent ? this.bus.fanout : undefined;
    if (fanout) watchConsumer(fanout, this.#registry);
  }
  counters(): Counters {
    const r = this.#registry?.check();
    return r ? { ok: r.status === 'ok' ? 1 : 0, reasons: r.reasons.length } : {};
  }
  stop(): void {
    this.#registry?.close();
  }
}

/**
 * The archive (consumers/archive/): `run --data-dir` on the embedded bus, or the `archive` command on NATS or a
 * JetStream durable consumer (`options.from`).
 */
export class ArchiveComponent implements Component {
  readonly name = 'archive';
  /** It keeps every event, the others' last counters included: stopped after the bus closed. */
  readonly sink = true;
  #archive: Archive | undefined;
  constructor(
    private readonly options: Omit<ArchiveOptions, 'onError' | 'onNotice' | 'counters'> & {
      /** What it reads (default: the plan's bus). */
      from?: () => Bus;
      /** Told each failed batch or retention (the process keeps going). */
      onError: (e: Error) => void;
      health?: HealthComponent;
    },
  ) {}
  get archive(): Archive | undefined {
    return this.#archive;
  }
  start(context: ComponentContext): void {
    const { from, health, onError, ...options } = this.options;
    try {
      this.#archive = startArchive(from?.() ?? context.bus, {
        ...options,
        onError: (e) => {
          health?.registry.failed('archive', e.message);
          onError(e);
        },
        onNotice: (m) => context.notice(`archive: ${m}`),
      });
    } catch (err) {
      throw new RuntimeError(`archive: ${describeError(err)}`);
    }
    // The archive judges its own health (writer stopped, disk full, writes failing, queue overflow: archive/health.ts).
    const archive = this.#archive;
    health?.registry.probe('archive', () => archive.health());
  }
  counters(): Counters {
    return this.#archive ? { ...this.#archive.counters() } : {};
  }
  /**
   * After the bus closed: its subscription has ended or ends once the archive took what was queued; wait for the
   * last batch and the writer thread. When start threw half-way (the bus still open), end the subscription here.
   */
  async stop(): Promise<void> {
    const archive = this.#archive;
    if (!archive) return;
    archive.subscription.unsubscribe();
    await archive.done;
  }
}

/** Detectors, the alert manager and webhooks (consumers/detectors/alerting.ts). */
export class AlertingComponent implements Component {
  readonly name = 'detectors';
  #alerting: Alerting | undefined;
  #bus: Bus | undefined;
  constructor(private readonly options: PipelineOptions) {}
  get alerting(): Alerting | undefined {
    return this.#alerting;
  }
  start(context: ComponentContext): void {
    this.#bus = context.bus;
    try {
      this.#alerting = startAlerting(context.bus, {
        nodeId: this.options.nodeId,
        config: this.options.detectors?.config ?? {},
        webhooks: this.options.detectors?.webhooks ?? [],
      });
    } catch (err) {
      throw new RuntimeError(`detectors: ${describeError(err)}`);
    }
  }
  counters(): Counters {
    if (!this.#alerting) return {};
    const webhooks = this.#alerting.webhookCounters();
    return { ...this.#alerting.manager.sizes(), ...(webhooks ? { webhooks: { ...webhooks } } : {}) };
  }
  /** Judge what the bus still holds, publish the pending updates, end the subscriptions, deliver what webhooks hold. */
  async stop(): Promise<void> {
    const alerting = this.#alerting;
    if (!alerting) return;
    await this.#bus?.drain();
    alerting.flush();
    await alerting.detectors.stop();
    await alerting.stop();
  }
}

/** `--collective` (src/collective/member.ts): shares the detectors' incidents. */
export class CollectiveComponent implements Component {
  readonly name = 'collective';
  readonly source = 'bus';
  #collective: Collective | undefined;
  constructor(
    private readonly options: PipelineOptions,
    private readonly alerting: AlertingComponent | undefined,
  ) {}
  get collective(): Collective | undefined {
    return this.#collective;
  }
  async start(context: ComponentContext): Promise<void> {
    const o = this.options;
    try {
      const alerting = this.alerting?.alerting;
      if (!alerting) throw new Error('needs the detectors (its incidents are what it shares)');
      this.#collective = await startCollective(context.bus, alerting.manager, {
        ...o.collective!,
        nodeId: o.nodeId,
        ...(o.archive ? { seqFile: `${o.archive.dataDir}/collective-seqs.json` } : {}),
        onNotice: (m) => context.notice(`collective: ${m}`),
      });
    } catch (err) {
      throw new RuntimeError(`--collective: ${describeError(err)}`);
    }
  }
  counters(): Counters {
    return this.#collective ? (this.#collective.counters() as unknown as Counters) : {};
  }
  async stop(): Promise<void> {
    await this.#collective?.close();
  }
}

/** /metrics, the API, /healthz and the dashboard (http/service.ts). */
export class HttpComponent implements Component {
  readonly name = 'http';
  /** Its consumers (metrics, peers, recent events, the live feed) end with the bus: stopped after it closed. */
  readonly sink = true;
  #service: HttpService | undefined;
  constructor(
    private readonly options: PipelineOptions,
    private readonly parts: {
      bus: PlanBus;
      health: HealthComponent;
      archive: ArchiveComponent | undefined;
      alerting: AlertingComponent | undefined;
      collective: CollectiveComponent | undefined;
    },
  ) {}
  get service(): HttpService | undefined {
    return this.#service;
  }
  async start(context: ComponentContext): Promise<void> {
    const { asn, ipLists, ...where } = this.options.http!;
    const { bus, health, archive, collective } = this.parts;
    const alerting = this.parts.alerting?.alerting;
    try {
      this.#service = await startHttpService(context.bus, {
        ...where,
        ...(ipLists ? { metrics: { ipLists } } : {}),
        dashboard: asn ? { asn } : {},
        ...(this.options.p2p === false ? {} : { nodeIds: [this.options.nodeId] }),
        health: () => {
          const a = archive?.archive;
          return { nodeId: this.options.nodeId, ...bus.health(), ...(a ? { archive: a.health() } : {}) };
        },
        healthRegistry: health.registry,
        ...(alerting
          ? {
              alerts: () => {
                const c = collective?.collective;
                return c ? withCollectiveAlerts(alerting.manager.store, c.recent) : alerting.manager.store;
              },
            }
          : {}),
      });
    } catch (err) {
      throw new RuntimeError(`--http: ${describeError(err)}`);
    }
  }
  counters(): Counters {
    const s = this.#service?.server.stats();
    return s ? (s as unknown as Counters) : {};
  }
  async stop(): Promise<void> {
    await this.#service?.close();
  }
}

/** `--connectivity` (consumers/connectivity/): tries the addresses peers advertise. */
export class ConnectivityComponent implements Component {
  readonly name = 'connectivity';
  #check: ConnectivityCheck | undefined;
  constructor(private readonly options: PipelineOptions) {}
  start(context: ComponentContext): void {
    this.#check = startConnectivity(context.bus, {
      network: this.options.network,
      nodeId: this.options.nodeId,
      allowLoopback: this.options.connectivity!.allowLoopback,
      summaryIntervalMs: this.options.countersIntervalMs ?? DEFAULT_COUNTERS_INTERVAL_MS,
    });
  }
  /** None: the checker publishes its own `connectivity.summary` events on the same interval. */
  counters(): Counters {
    return {};
  }
  async stop(): Promise<void> {
    await this.#check?.stop();
  }
}

/** The p2p observer (sources/p2p/): the honeypot listener and the chosen outbound peers. */
export class ObserverComponent implements Component {
  readonly name = 'p2p.observer';
  readonly source = 'p2p';
  #observer: Observer | undefined;
  constructor(private readonly options: PipelineOptions) {}
  get listening(): Endpoint[] {
    return this.#observer?.listening ?? [];
  }
  async start(context: ComponentContext): Promise<void> {
    const o = this.options;
    const bus = context.bus;
    try {
      this.#observer = await startObserver({
        network: o.network,
        nodeId: o.nodeId,
        listen: o.listen,
        connect: o.connect,
        ...(o.limits ? { limits: o.limits } : {}),
        ...(o.v2 !== undefined ? { v2: o.v2 } : {}),
        ...(o.mimic ? { mimic: typeof o.mimic === 'function' ? o.mimic() : o.mimic } : {}),
        publish: (e) => bus.publish(e),
        publishCounters: false,
      });
    } catch (err) {
      throw new RuntimeError(describeError(err));
    }
  }
  counters(): Counters {
    return this.#observer ? observerCounters(this.#observer.stats()) : {};
  }
  async stop(): Promise<void> {
    await this.#observer?.stop();
  }
}

/** The components of `run`/`demo`, by role, for the pipeline to read from once started. */
export interface RunPlan extends Plan {
  bus: PlanBus;
  health: HealthComponent;
  archive?: ArchiveComponent;
  alerting?: AlertingComponent;
  collective?: CollectiveComponent;
  http?: HttpComponent;
  /** Absent with --no-p2p. */
  observer?: ObserverComponent;
}

/** Components a command adds to the plan: the mimic backend before the observer; Core's rpc, log, usdt after it. */
export interface PlanParts {
  beforeObserver?: readonly Component[];
  sources?: readonly Component[];
}

/** The plan for `options`: consumers, then `parts.beforeObserver`, the observer, `parts.sources` (stopped in reverse). */
export function buildRunPlan(options: PipelineOptions, parts: PlanParts = {}): RunPlan {
  const bus = options.nats?.length ? new NatsBusComponent(options) : new EmbeddedBusComponent(options.io, options.json);
  const health = new HealthComponent(bus);
  const io = options.io;
  const archive =
    options.archive && !options.nats?.length
      ? new ArchiveComponent({ ...options.archive, health, onError: (e) => io.stderr.write(`peer-observer: ${e.message}\n`) })
      : undefined;
  const alerting = options.detectors !== null ? new AlertingComponent(options) : undefined;
  const collective = options.collective ? new CollectiveComponent(options, alerting) : undefined;
  const http = options.http ? new HttpComponent(options, { bus, health, archive, alerting, collective }) : undefined;
  const connectivity = options.connectivity ? new ConnectivityComponent(options) : undefined;
  // --no-p2p: no observer at all (it would publish zero counters as a p2p node this process does not have).
  const observer = options.p2p === false ? undefined : new ObserverComponent(options);
  const consumers = [health, archive, alerting, collective, http, connectivity].filter((c): c is NonNullable<typeof c> => c !== undefined);
  // With a durable consumer, the stream is read once every consumer above has subscribed.
  const startConsumers: Component[] =
    bus instanceof NatsBusComponent
      ? [{ name: 'bus.consumers', start: () => bus.startConsumers(), counters: () => ({}), stop: () => {} }]
      : [];
  const components: Component[] = [
    ...consumers,
    ...startConsumers,
    ...(parts.beforeObserver ?? []),
    ...(observer ? [observer] : []),
    ...(parts.sources ?? []),
  ];
  return {
    bus,
    components,
    health,
    ...(archive ? { archive } : {}),
    ...(alerting ? { alerting } : {}),
    ...(collective ? { collective } : {}),
    ...(http ? { http } : {}),
    ...(observer ? { observer } : {}),
  };
}
