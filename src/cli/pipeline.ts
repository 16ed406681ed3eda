/**
 * The wiring `run` and `demo` share: a bus, the p2p observer publishing into it,
 * and the bus's own counters as events. openBus() is the one place that picks
 * the bus: the embedded one with the logger on it (everything in one process),
 * or NATS when servers are given (consumers run elsewhere: `peer-observer log`).
 * Stopping goes in order: the observer (its last events), the bus counters, then
 * the bus, which lets the logger print, or NATS take, everything still queued.
 */
import type { Writable } from 'node:stream';
import type { Bus } from '../bus/bus.js';
import { EmbeddedBus, busCounters } from '../bus/embedded.js';
import { NatsBus, type NatsMode } from '../bus/nats.js';
import type { BatchEncoding } from '../bus/seq.js';
import { formatArchiveCounters, startArchive, type Archive } from '../consumers/archive/consumer.js';
import { startConnectivity, type ConnectivityCheck } from '../consumers/connectivity/consumer.js';
import { startLogger } from '../consumers/logger/logger.js';
import { startAlerting, type Alerting } from '../consumers/alerts/run.js';
import { makeEvent } from '../events/envelope.js';
import type { Network } from '../protocol/networks.js';
import { startObserver, type ObserverLimits } from '../sources/p2p/observer.js';
import type { MimicNode } from '../sources/p2p/mimic/node.js';
import type { Endpoint } from './config.js';
import type { AsnLookup } from '../http/asn.js';
import type { IpList } from '../consumers/metrics/traffic.js';
import { HealthRegistry } from '../health/registry.js';
import { startHttpService, type HttpService } from '../http/service.js';
import { RuntimeError, describeError } from './errors.js';
import { startCollective, type Collective, type CollectiveOptions } from '../collective/member.js';
import { withCollectiveAlerts } from '../collective/store.js';
import type { DurableFanout } from '../bus/fanout.js';
import { consumerCounters, consumerExitLine, consumerHealth, openRunConsumer, watchConsumer, type RunStream } from './run-consumer.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

export interface PipelineOptions {
  network: Network;
  nodeId: string;
  listen: Endpoint[];
  connect: Endpoint[];
  json: boolean;
  limits?: Partial<ObserverLimits>;
  /** `--mimic`: the backend-backed node the observer behaves like. */
  mimic?: MimicNode;
  /** How often the bus publishes its counters. */
  countersIntervalMs?: number;
  /** NATS server URLs: publish there instead of logging here. Empty or absent: embedded bus + logger. */
  nats?: string[];
  /** How batches are encoded on NATS (default msgpack). */
  natsEncoding?: BatchEncoding;
  /** auto (default: JetStream when the server has it), jetstream or core. */
  natsMode?: NatsMode;
  /** Archive every event under `dataDir` (embedded bus only): consumers/archive/. */
  archive?: { dataDir: string; retentionDays?: number; maxDbMb?: number; foldRate?: number; freshIfDamaged?: boolean } | null;
  /** Serve /metrics and the API here (http/service.ts); its consumers read this node's events from the bus. */
  http?: { host: string; port: number; token?: string; asn?: AsnLookup; ipLists?: IpList[]; allowedHosts?: string[] } | null;
  /** Try the addresses peers advertise (consumers/connectivity/): outbound connections to public addresses. */
  connectivity?: { allowLoopback: boolean } | null;
  /** BIP324 v2 transport in the p2p node (default on). */
  v2?: boolean;
  /** Detectors and alerts on the bus (consumers/detectors/, consumers/alerts/); null: off. Default: on with defaults. */
  detectors?: { config: unknown; webhooks: string[] } | null;
  /** `--collective` (src/collective/member.ts): needs the detectors. */
  collective?: Pick<CollectiveOptions, 'servers' | 'keyFile' | 'trustFile' | 'minMembers' | 'windowMs'> | null;
  io: Io;
  /** With `nats` in JetStream mode: the consumers here read the stream through this durable consumer (run-consumer.ts). */
  stream?: RunStream;
  /** false (`--no-p2p`): no observer of our own; over NATS, HTTP shows every observer's events, not only ours. */
  p2p?: boolean;
}

export interface Pipeline {
  bus: Bus;
  listening: Endpoint[];
  /** The HTTP server, when `http` was given. */
  http?: HttpService;
  /** Detectors, alert manager and webhooks, when on. */
  alerting?: Alerting;
  /** What /healthz reports: components report failures here (health/registry.ts). */
  health: HealthRegistry;
  /** The archive, with `run --data-dir`: its health() is for /healthz. */
  archive?: Archive;
  /** The collective membership, with `--collective`. */
  collective?: Collective;
  /** Idempotent. */
  stop(): Promise<void>;
}

/** The bus the observer publishes into, its counters, and how to shut it down. */
interface OpenBus {
  bus: Bus;
  archive?: Archive;
  counters(): { stage: string; counters: Record<string, number> };
  /** Close the bus and wait until what was published is delivered (printed, or handed to NATS). */
  close(): Promise<void>;
  /** For /healthz: NATS mode, connection and the JetStream stream's state (what its limits removed). */
  health?: () => Record<string, unknown>;
  /** Begin delivering to the consumers (a durable consumer reads once every one has subscribed). */
  start?: () => void;
}

async function openBus(options: PipelineOptions, health: HealthRegistry): Promise<OpenBus> {
  if (options.nats?.length) {
    let bus: NatsBus;
    try {
      bus = await NatsBus.connect({
        servers: options.nats,
        name: `peer-observer run ${options.nodeId}`,
        ...(options.natsEncoding ? { encoding: options.natsEncoding } : {}),
        ...(options.natsMode ? { mode: options.natsMode } : {}),
      });
    } catch (err) {
      throw new RuntimeError(describeError(err));
    }
    options.io.stderr.write(`peer-observer: ${bus.notice}\n`);
    let fanout: DurableFanout | undefined;
    if (bus.mode === 'jetstream' && options.stream) {
      try {
        fanout = await openRunConsumer(bus, options.nats, options.stream);
        options.io.stderr.write(`peer-observer: ${fanout.durable.notice}\n`);
        watchConsumer(fanout, health);
      } catch (err) {
        // A process of consumers only needs its durable consumer; an observer (whose NATS user may publish only) goes on.
        if (options.p2p === false) {
          await bus.close();
          throw new RuntimeError(describeError(err));
        }
        options.io.stderr.write(
          `peer-observer: ${describeError(err)}: the consumers here subscribe to NATS directly (core: they miss what is published while they are away)\n`,
        );
      }
    }
    return {
      bus: fanout ?? bus,
      ...(fanout ? { start: () => fanout.start() } : {}),
      health: () => {
        const s = bus.stats();
        return {
          nats: {
            mode: bus.mode,
            connected: s.connected,
            dropped: s.dropped,
            stream: s.stream,
            ...(fanout ? { consumer: consumerHealth(fanout) } : {}),
          },
        };
      },
      counters: () => ({ stage: 'bus.nats', counters: { ...bus.counterValues(), ...(fanout ? consumerCounters(fanout) : {}) } }),
      async close() {
        await fanout?.close();
        await bus.close();
        if (fanout) options.io.stderr.write(consumerExitLine(fanout));
        const s = bus.stats();
        options.io.stderr.write(
          `peer-observer: nats: published=${s.published} sent=${s.sent} buffered=${s.buffered} dropped=${s.dropped} reconnects=${s.reconnects}\n`,
        );
      },
    };
  }
  const bus = new EmbeddedBus();
  let archive: Archive | undefined;
  if (options.archive) {
    try {
      archive = startArchive(bus, {
        ...options.archive,
        counters: { origin: { nodeId: options.nodeId, source: 'archive' }, intervalMs: options.countersIntervalMs ?? 10_000 },
        onError: (e) => {
          health.failed('archive', e.message);
          options.io.stderr.write(`peer-observer: ${e.message}\n`);
        },
        onNotice: (m) => options.io.stderr.write(`peer-observer: archive: ${m}\n`),
      });
    } catch (err) {
      throw new RuntimeError(`archive: ${describeError(err)}`);
    }
  }
  const logger = startLogger(bus, options.io.stdout, { json: options.json });
  return {
    bus,
    ...(archive ? { archive } : {}),
    counters: () => ({ stage: 'bus', counters: busCounters(bus.stats()) }),
    async close() {
      await bus.close();
      await logger.done;
      if (archive) {
        await archive.done;
        options.io.stderr.write(`peer-observer: archive: ${formatArchiveCounters(archive.counters())}\n`);
      }
    },
  };
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const health = new HealthRegistry();
  const { bus, archive, counters, close, health: busHealth, start: startConsumers } = await openBus(options, health);
  // Events a consumer could not take (its queue was full) or NATS could not send: /healthz is degraded while they rise.
  health.watchDrops('bus', () => {
    const c = counters().counters;
    return (c.dropped ?? 0) + (c.subscriberDropped ?? 0);
  });
  // The archive judges its own health (writer stopped, disk full, writes failing, queue overflow: archive/health.ts).
  if (archive) health.probe('archive', () => archive.health());
  const origin = { nodeId: options.nodeId, source: 'bus' };
  let collective: Collective | undefined;
  const publishBusCounters = () => {
    bus.publish(makeEvent(origin, 'pipeline.counters', counters()));
    if (collective)
      bus.publish(makeEvent(origin, 'pipeline.counters', { stage: 'collective', counters: flatCounters(collective.counters()) }));
  };

  let alerting: Alerting | undefined;
  if (options.detectors !== null) {
    try {
      alerting = startAlerting(bus, {
        nodeId: options.nodeId,
        config: options.detectors?.config ?? {},
        webhooks: options.detectors?.webhooks ?? [],
      });
    } catch (err) {
      await close();
      throw new RuntimeError(`detectors: ${describeError(err)}`);
    }
  }

  if (options.collective) {
    try {
      if (!alerting) throw new Error('needs the detectors (its incidents are what it shares)');
      collective = await startCollective(bus, alerting.manager, {
        ...options.collective,
        nodeId: options.nodeId,
        ...(options.archive ? { seqFile: `${options.archive.dataDir}/collective-seqs.json` } : {}),
        onNotice: (m) => options.io.stderr.write(`peer-observer: collective: ${m}\n`),
      });
    } catch (err) {
      await close();
      throw new RuntimeError(`--collective: ${describeError(err)}`);
    }
  }

  let http: HttpService | undefined;
  if (options.http) {
    try {
      const { asn, ipLists, ...where } = options.http;
      http = await startHttpService(bus, {
        ...where,
        ...(ipLists ? { metrics: { ipLists } } : {}),
        dashboard: asn ? { asn } : {},
        ...(options.p2p === false ? {} : { nodeIds: [options.nodeId] }),
        health: () => ({ nodeId: options.nodeId, ...busHealth?.(), ...(archive ? { archive: archive.health() } : {}) }),
        healthRegistry: health,
        ...(alerting
          ? { alerts: () => (collective ? withCollectiveAlerts(alerting.manager.store, collective.recent) : alerting.manager.store) }
          : {}),
      });
    } catch (err) {
      await collective?.close();
      await close();
      throw new RuntimeError(`--http: ${describeError(err)}`);
    }
  }

  let connectivity: ConnectivityCheck | undefined;
  if (options.connectivity) {
    connectivity = startConnectivity(bus, {
      network: options.network,
      nodeId: options.nodeId,
      allowLoopback: options.connectivity.allowLoopback,
      summaryIntervalMs: options.countersIntervalMs ?? 10_000,
    });
  }

  startConsumers?.();
  let observer;
  try {
    observer = await startObserver({
      network: options.network,
      nodeId: options.nodeId,
      listen: options.listen,
      connect: options.connect,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.v2 !== undefined ? { v2: options.v2 } : {}),
      ...(options.mimic ? { mimic: options.mimic } : {}),
      publish: (e) => bus.publish(e),
    });
  } catch (err) {
    await connectivity?.stop();
    await collective?.close();
    await close();
    await http?.close();
    throw new RuntimeError(describeError(err));
  }
  const timer = setInterval(publishBusCounters, options.countersIntervalMs ?? 10_000).unref();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(timer);
      await observer.stop();
      await connectivity?.stop();
      alerting?.flush();
      publishBusCounters();
      await collective?.close();
      await close();
      await alerting?.stop();
      await http?.close();
      health.close();
    })());
  return {
    bus,
    listening: observer.listening,
    ...(http ? { http } : {}),
    ...(alerting ? { alerting } : {}),
    ...(archive ? { archive } : {}),
    ...(collective ? { collective } : {}),
    health,
    stop,
  };
}

/** `{refused: {replay: 1}}` → `{'refused.replay': 1}`: counters events hold numbers only. */
function flatCounters(o: object, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') out[prefix + k] = v;
    else if (v && typeof v === 'object') Object.assign(out, flatCounters(v as object, `${prefix}${k}.`));
  }
  return out;
}

export function endpointText(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Resolves when the signal aborts (at once if it already has). */
/**
 * Resolves when `signal` aborts. Until then it holds the event loop open: a
 * command runs until SIGINT/SIGTERM, not until its work happens to leave no
 * pending handle (a lone --connect whose peer is down; issue 12).
 */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  const keepAlive = setInterval(() => {}, 2 ** 30);
  return new Promise((resolve) =>
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    ),
  );
}
