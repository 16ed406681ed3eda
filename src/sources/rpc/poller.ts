/**
 * The rpc source's state machine, without a bus or a socket: one poll() asks
 * the node (through an injected caller: the JSON-RPC client, or a test's
 * answers) for its peers, and every `statusIntervalMs` for the node-wide facts,
 * publishes what changed, and says how long to wait before the next poll —
 * the peers interval when the node answered, exponential backoff when it did
 * not. Every change of state (up, down, warming-up, auth-failed, error) is an
 * rpc.status event and a status line. source.ts runs it on a timer.
 */
import type { NodeStatus, ObserverEvent, RpcState } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import type { CoreSink } from '../core/common.js';
import { EventSink } from '../../events/sink.js';
import { RpcAuthError, RpcMethodError, RpcUnavailableError, redactUrl } from './client.js';
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

/** What the poller asks the node through: RpcClient, or a test's answers. */
export interface RpcCaller {
  call(method: string, params?: unknown[]): Promise<unknown>;
}

export interface RpcPollerOptions {
  /** The node's URL (redacted in events and lines). */
  url: string;
  nodeId: string;
  /** Until getblockchaininfo says which chain the node is on. */
  network: NetworkName;
  publish: (event: ObserverEvent) => void;
  /** getpeerinfo every this often (default 10 s). */
  peersIntervalMs?: number;
  /** The node-wide RPCs every this often (default 60 s). */
  statusIntervalMs?: number;
  /** First retry delay after a failure, doubled up to maxBackoffMs (defaults 1 s, 60 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Human-readable status lines (state changes). */
  onStatus?: (line: string) => void;
  /** Clock (ms since the epoch). */
  now?: () => number;
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

export class RpcPoller {
  readonly #options: RpcPollerOptions;
  readonly #client: RpcCaller;
  readonly #sink: CoreSink;
  readonly #diff: PeerDiff;
  readonly #url: string;
  readonly #now: () => number;
  readonly #unsupported = new Set<string>();
  #network: NetworkName;
  #state: RpcState | 'starting' = 'starting';
  #detail = '';
  #failures = 0;
  #polls = 0;
  #invalidAnswers = 0;
  #lastStatusAt = -Infinity;

  constructor(options: RpcPollerOptions, client: RpcCaller) {
    this.#options = options;
    this.#client = client;
    this.#sink = new EventSink(options.nodeId, 'rpc', options.publish);
    this.#diff = new PeerDiff(this.#sink);
    this.#url = redactUrl(options.url);
    this.#now = options.now ?? Date.now;
    this.#network = options.network;
  }

  get state(): RpcState | 'starting' {
    return this.#state;
  }

  /**
   * One round: the node-wide facts when due (first: they say which chain the peers are on), then the peers.
   * Resolves with the milliseconds to wait before the next round. `aborted()` true when a call fails: the
   * failure is the shutdown's, not the node's, and changes nothing.
   */
  async poll(aborted: () => boolean = () => false): Promise<number> {
    const o = this.#options;
    const peersEvery = o.peersIntervalMs ?? 10_000;
    try {
      this.#polls++;
      if (this.#now() - this.#lastStatusAt >= (o.statusIntervalMs ?? 60_000)) {
        await this.#pollStatus();
        this.#lastStatusAt = this.#now();
      }
      await this.#pollPeers();
      this.#failures = 0;
      this.#setState('up', 'ok', peersEvery);
      return peersEvery;
    } catch (e) {
      if (aborted()) return 0;
      this.#failures++;
      const retryMs = Math.min(o.maxBackoffMs ?? 60_000, (o.backoffMs ?? 1000) * 2 ** Math.min(this.#failures - 1, 30));
      const c = classify(e);
      this.#setState(c.state, c.detail, retryMs);
      return retryMs;
    }
  }

  stats(): RpcSourceStats {
    return {
      state: this.#state,
      polls: this.#polls,
      failures: this.#failures,
      peers: this.#diff.size,
      opened: this.#diff.opened,
      closed: this.#diff.closed,
      invalidAnswers: this.#invalidAnswers,
      unsupported: [...this.#unsupported],
      eventsPublished: this.#sink.published,
      publishErrors: this.#sink.publishErrors,
    };
  }

  #setState(next: RpcState, nextDetail: string, retryMs: number): void {
    if (next === this.#state && nextDetail === this.#detail) return;
    this.#state = next;
    this.#detail = nextDetail;
    this.#sink.emit('rpc.status', {
      state: next,
      url: this.#url,
      detail: nextDetail,
      failures: this.#failures,
      retryMs,
      unsupported: [...this.#unsupported],
    });
    const retry = next === 'up' ? '' : ` (failures ${this.#failures}, retry in ${Math.round(retryMs / 100) / 10} s)`;
    this.#options.onStatus?.(`rpc ${this.#url}: ${next}${next === 'up' ? '' : `: ${nextDetail}`}${retry}`);
  }

  /** Call and validate; null (and counted) for a method the node lacks or an answer we cannot read. Connection-level errors propagate. */
  async #optional<S extends z.ZodTypeAny>(method: string, schema: S, params: unknown[] = []): Promise<z.infer<S> | null> {
    if (this.#unsupported.has(method)) return null;
    try {
      const parsed = schema.safeParse(await this.#client.call(method, params));
      if (parsed.success) return parsed.data as z.infer<S>;
      this.#invalidAnswers++;
      return null;
    } catch (e) {
      if (e instanceof RpcMethodError && e.methodNotFound) {
        this.#unsupported.add(method);
        this.#options.onStatus?.(`rpc ${this.#url}: the node has no ${method} (older Core?): skipped from now on`);
        return null;
      }
      if (e instanceof RpcMethodError && !e.warmingUp) {
        this.#invalidAnswers++;
        return null;
      }
      throw e;
    }
  }

  async #pollPeers(): Promise<void> {
    const answer = await this.#client.call('getpeerinfo');
    if (!Array.isArray(answer)) throw new RpcMethodError('getpeerinfo', 0, 'the answer is not an array');
    const peers: PeerInfo[] = [];
    for (const item of answer) {
      const p = peerInfoSchema.safeParse(item);
      if (p.success) peers.push(p.data);
      else this.#invalidAnswers++;
    }
    this.#diff.apply(peers, this.#network, this.#now() * 1000);
  }

  async #pollStatus(): Promise<void> {
    const chain = await this.#optional('getblockchaininfo', getBlockchainInfoSchema);
    const net = await this.#optional('getnetworkinfo', getNetworkInfoSchema);
    const totals = await this.#optional('getnettotals', getNetTotalsSchema);
    const mempool = await this.#optional('getmempoolinfo', getMempoolInfoSchema);
    const tips = await this.#optional('getchaintips', getChainTipsSchema);
    const addrman = await this.#optional('getaddrmaninfo', getAddrmanInfoSchema);
    const raw = await this.#optional('getrawaddrman', getRawAddrmanSchema);
    const uptime = await this.#optional('uptime', uptimeSchema);
    const banned = await this.#optional('listbanned', listBannedSchema);
    if (chain) this.#network = networkOfChain(chain.chain) ?? this.#network;
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
      extras: await pollNodeExtras((m, s, p) => this.#optional(m, s, p), { mempool, addrman, raw }, this.#now() / 1000),
    };
    this.#sink.emit('node.status', status);
  }
}

function classify(e: unknown): { state: RpcState; detail: string } {
  if (e instanceof RpcAuthError) return { state: 'auth-failed', detail: e.message };
  if (e instanceof RpcUnavailableError) return { state: 'down', detail: e.message };
  if (e instanceof RpcMethodError && e.warmingUp) return { state: 'warming-up', detail: `node is warming up: ${e.rpcMessage}` };
  return { state: 'error', detail: e instanceof Error ? e.message : String(e) };
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
