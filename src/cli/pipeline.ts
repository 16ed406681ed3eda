/**
 * The wiring `run` and `demo` share: plan.ts builds the plan from the options
 * (the bus — embedded with the logger, or NATS —, the consumers, the p2p
 * observer, the Core sources) and the runtime (src/runtime/) starts it in
 * order, publishes every component's counters from one timer, and stops it in
 * reverse, sources first, so the consumers take every last event and the bus,
 * stopped last, lets the logger print, or NATS take, everything still queued.
 */
import type { Writable } from 'node:stream';
import type { NatsMode } from '../bus/nats.js';
import type { BatchEncoding } from '../bus/seq.js';
import { formatArchiveCounters, type Archive } from '../consumers/archive/consumer.js';
import type { Network } from '../protocol/networks.js';
import type { ObserverLimits } from '../sources/p2p/observer.js';
import type { MimicNode } from '../sources/p2p/mimic/node.js';
import type { Endpoint } from './config.js';
import type { AsnLookup } from '../http/asn.js';
import type { IpList } from '../consumers/metrics/traffic.js';
import type { HttpService } from '../http/service.js';
import type { Collective, CollectiveOptions } from '../collective/member.js';
import { Runtime } from '../runtime/runtime.js';
import { buildRunPlan, type PlanParts } from './plan.js';
import type { RunStream } from './run-consumer.js';

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
  mimic?: MimicNode | (() => MimicNode);
  /** How often every component's counters are published (the runtime's one timer; default 10 s). */
  countersIntervalMs?: number;
  /** The shutdown deadline the runtime enforces (default 2 s). */
  shutdownMs?: number;
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
  listening: Endpoint[];
  /** The HTTP server, when `http` was given. */
  http?: HttpService;
  /** The archive, with `run --data-dir`: its health() is for /healthz. */
  archive?: Archive;
  /** The collective membership, with `--collective`. */
  collective?: Collective;
  /** Idempotent. */
  stop(): Promise<void>;
}

/**
 * Start `run`'s (or `demo`'s) plan (plan.ts) on the runtime: on a failure at
 * any step, what had started is stopped in reverse and the step's error thrown.
 * `parts.beforeObserver` start just before the observer (the mimic backend it
 * needs), `parts.sources` after it (Core's rpc, log, usdt).
 */
export async function startPipeline(options: PipelineOptions, parts: PlanParts = {}): Promise<Pipeline> {
  const plan = buildRunPlan(options, parts);
  const runtime = await Runtime.start(plan, {
    nodeId: options.nodeId,
    ...(options.countersIntervalMs !== undefined ? { countersIntervalMs: options.countersIntervalMs } : {}),
    ...(options.shutdownMs !== undefined ? { shutdownMs: options.shutdownMs } : {}),
    notice: (line) => options.io.stderr.write(`peer-observer: ${line}\n`),
  });
  const http = plan.http?.service;
  const archive = plan.archive?.archive;
  const collective = plan.collective?.collective;
  return {
    listening: plan.observer?.listening ?? [],
    ...(http ? { http } : {}),
    ...(archive ? { archive } : {}),
    ...(collective ? { collective } : {}),
    stop: async () => {
      await runtime.stop();
      if (archive) options.io.stderr.write(`peer-observer: archive: ${formatArchiveCounters(archive.counters())}\n`);
    },
  };
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
