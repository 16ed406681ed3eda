/**
 * The rpc source: polls a Bitcoin Core node's JSON-RPC and turns what it says
 * into events — getpeerinfo differences (connection.opened/closed, peer.stats)
 * every `peersIntervalMs`, and the node-wide facts (node.status) every
 * `statusIntervalMs`. A node that is down, warming up, refusing our
 * credentials or answering errors is retried with exponential backoff; every
 * change of state is an rpc.status event and a status line.
 */
import type { NodeStatus, ObserverEvent, RpcState } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { CoreSink, sleep } from '../core/common.js';
import { RpcAuthError, RpcClient, RpcMethodError, RpcUnavailableError, redactUrl, type RpcAuth } from './client.js';
import { pollNodeExtras } from './node-extras.js';
import { PeerDiff } from './peers.js';
import {
  getAddrmanInfoSchema,
  getBlockchainInfoSchema,
  getChainTipsSchema,
  getMempoolInfoSchema,
  getNetTotalsSchema,
  getNetworkInfoSchema,
  getRawAddrmanSchema,
  listBannedSchema,
  networkOfChain,
  peerInfoSchema,
  uptimeSchema,
  type PeerInfo,
} from './schemas.js';
import type { z } from 'zod';

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

export interface RpcSourceStats {
  state: RpcState | 'starting';
  polls: number;
  failures: number;
  peers: number;
  opened: number;
  closed: number;
  /** Answers (or single peers) that did not match the schema and were skipped. */
  invalidAnswers: number;
  unsupported: string[];
  eventsPublished: number;
  publishErrors: number;
}

export interface RpcSource {
  stop(): Promise<void>;
  stats(): RpcSourceStats;
}

function classify(e: unknown): { state: RpcState; detail: string } {
  if (e instanceof RpcAuthError) return { state: 'auth-failed', detail: e.message };
  if (e instanceof RpcUnavailableError) return { state: 'down', detail: e.message };
  if (e instanceof RpcMethodError && e.warmingUp) return { state: 'warming-up', detail: `node is warming up: ${e.rpcMessage}` };
  return { state: 'error', detail: e instanceof Error ? e.message : String(e) };
}

export function startRpcSource(options: RpcSourceOptions): RpcSource {
  const client = new RpcClient({ url: options.url, auth: options.auth, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const sink = new CoreSink(options.nodeId, 'rpc', options.publish);
  const diff = new PeerDiff(sink);
  const url = redactUrl(options.url);
  const peersEvery = options.peersIntervalMs ?? 10_000;
  const statusEvery = options.statusIntervalMs ?? 60_000;
  const backoff = options.backoffMs ?? 1000;
  const maxBackoff = options.maxBackoffMs ?? 60_000;
  const unsupported = new Set<string>();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let network = options.network;
  let state: RpcState | 'starting' = 'starting';
  let detail = '';
  let failures = 0;
  let polls = 0;
  let invalidAnswers = 0;
  let lastStatusAt = -Infinity;

  const setState = (next: RpcState, nextDetail: string, retryMs: number): void => {
    if (next === state && nextDetail === detail) return;
    state = next;
    detail = nextDetail;
    sink.emit('rpc.status', { state: next, url, detail: nextDetail, failures, retryMs, unsupported: [...unsupported] });
    const retry = next === 'up' ? '' : ` (failures ${failures}, retry in ${Math.round(retryMs / 100) / 10} s)`;
    options.onStatus?.(`rpc ${url}: ${next}${next === 'up' ? '' : `: ${nextDetail}`}${retry}`);
  };

  /** Call and validate; null (and counted) for a method the node lacks or an answer we cannot read. Connection-level errors propagate. */
  async function optional<S extends z.ZodTypeAny>(method: string, schema: S, params: unknown[] = []): Promise<z.infer<S> | null> {
    if (unsupported.has(method)) return null;
    try {
      const parsed = schema.safeParse(await client.call(method, params));
      if (parsed.success) return parsed.data as z.infer<S>;
      invalidAnswers++;
      return null;
    } catch (e) {
      if (e instanceof RpcMethodError && e.methodNotFound) {
        unsupported.add(method);
        options.onStatus?.(`rpc ${url}: the node has no ${method} (older Core?): skipped from now on`);
        return null;
      }
      if (e instanceof RpcMethodError && !e.warmingUp) {
        invalidAnswers++;
        return null;
      }
      throw e;
    }
  }

  async function pollPeers(): Promise<void> {
    const answer = await client.call('getpeerinfo');
    if (!Array.isArray(answer)) throw new RpcMethodError('getpeerinfo', 0, 'the answer is not an array');
    const peers: PeerInfo[] = [];
    for (const item of answer) {
      const p = peerInfoSchema.safeParse(item);
      if (p.success) peers.push(p.data);
      else invalidAnswers++;
    }
    diff.apply(peers, network, Date.now() * 1000);
  }

  async function pollStatus(): Promise<void> {
    const chain = await optional('getblockchaininfo', getBlockchainInfoSchema);
    const net = await optional('getnetworkinfo', getNetworkInfoSchema);
    const totals = await optional('getnettotals', getNetTotalsSchema);
    const mempool = await optional('getmempoolinfo', getMempoolInfoSchema);
    const tips = await optional('getchaintips', getChainTipsSchema);
    const addrman = await optional('getaddrmaninfo', getAddrmanInfoSchema);
    const raw = await optional('getrawaddrman', getRawAddrmanSchema);
    const uptime = await optional('uptime', uptimeSchema);
    const banned = await optional('listbanned', listBannedSchema);
    if (chain) network = networkOfChain(chain.chain) ?? network;
    const warnings = [net?.warnings, chain?.warnings].flatMap((w) => (w === undefined ? [] : Array.isArray(w) ? w : w ? [w] : []));
    const status: NodeStatus = {
      chain: chain?.chain ?? null,
      blocks: chain?.blocks ?? null,
      headers: chain?.headers ?? null,
      bestBlockHash: chain?.bestblockhash ?? null,
      initialBlockDownload: chain?.initialblockdownload ?? null,
      verificationProgress: chain?.verificationprogress ?? null,
      staleTips: tips ? tips.filter((t) => t.status !== 'active').length : null,
      invalidTips: tips ? tips.filter((t) => t.status === 'invalid').length : null,
      version: net?.version ?? null,
      subversion: net?.subversion ?? null,
      networkActive: net?.networkactive ?? null,
      connections: net
        ? {
            total: net.connections,
            inbound: net.connections_in ?? 0,
            outbound: net.connections_out ?? net.connections - (net.connections_in ?? 0),
          }
        : null,
      totalBytesIn: totals?.totalbytesrecv ?? null,
      totalBytesOut: totals?.totalbytessent ?? null,
      mempool: mempool ? { size: mempool.size, bytes: mempool.bytes, usage: mempool.usage, minFeeBtcPerKvB: mempool.mempoolminfee } : null,
      addrman: addrman ? addrman.all_networks : null,
      addrmanTopSources: raw ? topSources(raw) : null,
      uptimeSec: uptime ?? null,
      banned: banned ? banned.length : null,
      warnings: [...new Set(warnings)],
      extras: await pollNodeExtras(optional, { mempool, addrman, raw }, Date.now() / 1000),
    };
    sink.emit('node.status', status);
  }

  const done = (async () => {
    while (!signal.aborted) {
      try {
        polls++;
        if (Date.now() - lastStatusAt >= statusEvery) {
          // The node-wide poll first: it learns the chain the peers are on.
          await pollStatus();
          lastStatusAt = Date.now();
        }
        await pollPeers();
        failures = 0;
        setState('up', 'ok', peersEvery);
        await sleep(peersEvery, signal);
      } catch (e) {
        if (signal.aborted) break;
        failures++;
        const retryMs = Math.min(maxBackoff, backoff * 2 ** Math.min(failures - 1, 30));
        const c = classify(e);
        setState(c.state, c.detail, retryMs);
        await sleep(retryMs, signal);
      }
    }
  })();

  return {
    async stop() {
      stop.abort();
      await done;
      client.close();
    },
    stats() {
      return {
        state,
        polls,
        failures,
        peers: diff.size,
        opened: diff.opened,
        closed: diff.closed,
        invalidAnswers,
        unsupported: [...unsupported],
        eventsPublished: sink.published,
        publishErrors: sink.publishErrors,
      };
    },
  };
}

function topSources(raw: z.infer<typeof getRawAddrmanSchema>): { source: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const entry of Object.values(raw.new)) {
    const source = entry.source ?? 'unknown';
    counts.set(source, (counts.get(source) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10)
    .map(([source, count]) => ({ source, count }));
}
