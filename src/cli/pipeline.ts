/**
 * The wiring `run` and `demo` share: an embedded bus, the logger on it, the p2p
 * observer publishing into it, and the bus's own counters as events. Stopping
 * goes in order: the observer (its last events), the bus counters, then the bus,
 * which lets the logger print everything still queued.
 */
import type { Writable } from 'node:stream';
import { EmbeddedBus, busCounters } from '../bus/embedded.js';
import { startLogger } from '../consumers/logger/logger.js';
import { makeEvent } from '../events/envelope.js';
import type { Network } from '../protocol/networks.js';
import { startObserver, type ObserverLimits } from '../sources/p2p/observer.js';
import type { Endpoint } from './config.js';
import { RuntimeError, describeError } from './errors.js';

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
  /** How often the bus publishes its counters. */
  countersIntervalMs?: number;
  io: Io;
}

export interface Pipeline {
  bus: EmbeddedBus;
  listening: Endpoint[];
  /** Idempotent. */
  stop(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const bus = new EmbeddedBus();
  const logger = startLogger(bus, options.io.stdout, { json: options.json });
  const origin = { nodeId: options.nodeId, source: 'bus' };
  const publishBusCounters = () =>
    bus.publish(makeEvent(origin, 'pipeline.counters', { stage: 'bus', counters: busCounters(bus.stats()) }));

  let observer;
  try {
    observer = await startObserver({
      network: options.network,
      nodeId: options.nodeId,
      listen: options.listen,
      connect: options.connect,
      ...(options.limits ? { limits: options.limits } : {}),
      publish: (e) => bus.publish(e),
    });
  } catch (err) {
    await bus.close();
    await logger.done;
    throw new RuntimeError(describeError(err));
  }
  const timer = setInterval(publishBusCounters, options.countersIntervalMs ?? 10_000).unref();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(timer);
      await observer.stop();
      publishBusCounters();
      await bus.close();
      await logger.done;
    })());
  return { bus, listening: observer.listening, stop };
}

export function endpointText(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Resolves when the signal aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
