/**
 * The rpc source: polls a Bitcoin Core node's JSON-RPC and turns what it says
 * into events — getpeerinfo differences (connection.opened/closed, peer.stats)
 * every `peersIntervalMs`, and the node-wide facts (node.status) every
 * `statusIntervalMs`. A node that is down, warming up, refusing our
 * credentials or answering errors is retried with exponential backoff; every
 * change of state is an rpc.status event and a status line. The state machine
 * is poller.ts's RpcPoller (tested without a node); this runs it on a timer
 * with the real JSON-RPC client.
 */
import type { ObserverEvent } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { sleep } from '../core/common.js';
import { RpcClient, type RpcAuth } from './client.js';
import { RpcPoller, type RpcSourceStats } from './poller.js';

export type { RpcSourceStats } from './poller.js';

export interface RpcSourceOptions {
  url: string;
  auth: RpcAuth;
  nodeId: string;
  /** Until getblockchaininfo says which chain the node is on. */
  network: NetworkName;
  publish: (event: ObserverEvent) => void;
  signal?: AbortSignal;
  /** getpeerinfo every this often (default 10 s). */
  peersIntervalMs?: number;
  /** The node-wide RPCs every this often (default 60 s). */
  statusIntervalMs?: number;
  /** Per-call timeout (default 10 s). */
  timeoutMs?: number;
  /** First retry delay after a failure, doubled up to maxBackoffMs (defaults 1 s, 60 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Human-readable status lines (state changes). */
  onStatus?: (line: string) => void;
}

export interface RpcSource {
  stop(): Promise<void>;
  stats(): RpcSourceStats;
}

export function startRpcSource(options: RpcSourceOptions): RpcSource {
  const client = new RpcClient({ url: options.url, auth: options.auth, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const poller = new RpcPoller(options, client);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const done = (async () => {
    while (!signal.aborted) {
      const wait = await poller.poll(() => signal.aborted);
      if (signal.aborted) break;
      await sleep(wait, signal);
    }
  })();
  return {
    async stop() {
      stop.abort();
      await done;
      client.close();
    },
    stats: () => poller.stats(),
  };
}
