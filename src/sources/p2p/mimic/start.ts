/**
 * `run --mimic`: the backend client and the mimic node, started before the
 * observer so the first peer already gets the backend's identity. Its counters
 * go out as `pipeline.counters` (stage `p2p.mimic`) beside the observer's.
 */
import { makeEvent } from '../../../events/envelope.js';
import type { EventDataByType, EventType, ObserverEvent } from '../../../events/types.js';
import { RpcClient, redactUrl, type RpcAuth } from '../../rpc/client.js';
import { Backend, type BackendOptions } from '../../backend/backend.js';
import type { BudgetOptions } from './budget.js';
import { MimicNode } from './node.js';

export interface StartMimicOptions {
  url: string;
  auth: RpcAuth;
  nodeId: string;
  publish: (e: ObserverEvent) => void;
  budget?: BudgetOptions;
  backend?: BackendOptions;
  v2?: boolean;
  /** `--external-address`: our own addresses to advertise. */
  externalAddresses?: readonly { host: string; port: number }[];
  countersIntervalMs?: number;
  /** Publish `pipeline.counters` itself (default true); false when a runtime (src/runtime/) publishes node.stats(). */
  publishCounters?: boolean;
  /** A line for the operator when the backend goes down or comes back. */
  status?: (line: string) => void;
}

export interface RunningMimic {
  node: MimicNode;
  stop(): void;
}

export async function startMimic(options: StartMimicOptions): Promise<RunningMimic> {
  const pollMs = options.backend?.pollMs ?? 1000;
  const emit = <T extends EventType>(type: T, data: EventDataByType[T]): void => {
    try {
      options.publish(makeEvent({ nodeId: options.nodeId, source: 'p2p' }, type, data) as ObserverEvent);
    } catch {
      // a failed publish is the bus's to count
    }
  };
  const rpc = new RpcClient({ url: options.url, auth: options.auth, timeoutMs: 10_000 });
  // The long poll has its own client (one connection held while it waits), with a timeout past its wait.
  const waitRpc = new RpcClient({ url: options.url, auth: options.auth, timeoutMs: 20_000 });
  const tipListener: { node?: MimicNode } = {};
  const backend = new Backend(
    rpc,
    { pollMs, waitRpc, ...options.backend },
    {
      onTip: (tip) => tipListener.node?.tipChanged(tip),
      onHealth: (h) => {
        options.status?.(h.up ? 'mimic backend is back' : `mimic backend unreachable (serving from cache): ${h.detail}`);
        // The same event the rpc source emits: the node-health detector raises its alert on it and clears after.
        emit('rpc.status', {
          state: h.up ? 'up' : 'down',
          url: redactUrl(options.url),
          detail: h.detail,
          failures: h.failures,
          retryMs: pollMs,
          unsupported: [],
        });
      },
    },
  );
  const node = new MimicNode(backend, {
    ...(options.v2 !== undefined ? { v2: options.v2 } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
    ...(options.externalAddresses ? { externalAddresses: options.externalAddresses } : {}),
  });
  tipListener.node = node;
  try {
    await backend.start();
  } catch (e) {
    backend.stop();
    rpc.close();
    waitRpc.close();
    throw e;
  }
  const publishCounters = (): void => {
    if (options.publishCounters === false) return;
    try {
      options.publish(
        makeEvent({ nodeId: options.nodeId, source: 'p2p' }, 'pipeline.counters', {
          stage: 'p2p.mimic',
          counters: node.stats(),
        }) as ObserverEvent,
      );
    } catch {
      // counted by the bus
    }
  };
  const timer = options.publishCounters === false ? undefined : setInterval(publishCounters, options.countersIntervalMs ?? 10_000).unref();
  return {
    node,
    stop() {
      clearInterval(timer);
      publishCounters();
      backend.stop();
      rpc.close();
      waitRpc.close();
    },
  };
}
