/**
 * The three Core sources (rpc, log, usdt) watching one real bitcoind, each
 * publishing into its own list of events, for the real-node tests.
 */
import { spawnSync } from 'node:child_process';
import type { ConnRef, ObserverEvent } from '../../src/events/types.js';
import { parseEvent } from '../../src/events/schema.js';
import { startLogSource, type LogSource } from '../../src/sources/log/source.js';
import { startRpcSource, type RpcSource } from '../../src/sources/rpc/source.js';
import { startUsdtSource, type UsdtSource } from '../../src/sources/usdt/source.js';
import type { Bitcoind } from '../helpers/bitcoind.js';

export type CoreSourceName = 'rpc' | 'log' | 'usdt';

/** Why bpftrace cannot attach here, or undefined. In CI (.ci/run runs as root with bpftrace) it can. */
export function usdtSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'usdt needs root for bpftrace';
  if (spawnSync('bpftrace', ['--version']).status !== 0) return 'usdt needs bpftrace (apt-get install bpftrace)';
  return undefined;
}

export async function waitFor(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The connections opened and not (yet) closed in `events`. */
export function open(events: readonly ObserverEvent[]): ConnRef[] {
  const live = new Map<number, ConnRef>();
  for (const e of events) {
    if (e.type === 'connection.opened') live.set(e.data.conn.id, e.data.conn);
    else if (e.type === 'connection.closed') live.delete(e.data.conn.id);
  }
  return [...live.values()];
}

export class CoreWatch {
  private readonly lists: Record<CoreSourceName, ObserverEvent[]> = { rpc: [], log: [], usdt: [] };
  readonly status: string[] = [];
  private rpc?: RpcSource;
  private log?: LogSource;
  private usdt?: UsdtSource;

  private constructor(private readonly node: Bitcoind) {}

  static async start(node: Bitcoind, o: { usdt: boolean }): Promise<CoreWatch> {
    const w = new CoreWatch(node);
    // Every event through the schema check, as the bus boundary would.
    const into = (list: ObserverEvent[]) => (e: ObserverEvent) => list.push(parseEvent(JSON.parse(JSON.stringify(e))));
    const base = { nodeId: 'core', network: 'regtest' as const, countersEveryMs: 0 };
    w.rpc = startRpcSource({
      ...base,
      url: node.rpcUrl,
      auth: { kind: 'cookie', file: node.cookieFile },
      publish: into(w.lists.rpc),
      peersIntervalMs: 200,
      // One node.status at the start: a later one would see the test peers gone, which node-health rightly reports.
      statusIntervalMs: 600_000,
    });
    w.log = startLogSource({ ...base, path: node.debugLog, fromStart: true, pollMs: 50, publish: into(w.lists.log) });
    if (o.usdt) {
      w.usdt = startUsdtSource({ ...base, bitcoindPid: node.pid, publish: into(w.lists.usdt), onStatus: (l) => w.status.push(l) });
      // Attached once a mined block shows up as validation:block_connected.
      await waitFor(
        async () => {
          await node.mine(1);
          await new Promise((r) => setTimeout(r, 300));
          return w.lists.usdt.some((e) => e.type === 'block.connected');
        },
        `bpftrace to attach (${w.status.join('; ')})`,
        60_000,
      );
    }
    return w;
  }

  has(source: CoreSourceName): boolean {
    return source !== 'usdt' || this.usdt !== undefined;
  }

  sources(): CoreSourceName[] {
    return (['rpc', 'log', 'usdt'] as const).filter((s) => this.has(s));
  }

  /** The rpc source's own counters (answers it could not read, methods the node lacks). */
  rpcStats(): ReturnType<RpcSource['stats']> | undefined {
    return this.rpc?.stats();
  }

  events(source: CoreSourceName): ObserverEvent[] {
    return this.lists[source];
  }

  /** Forget what was seen so far (between scenarios). */
  clear(): void {
    for (const l of Object.values(this.lists)) l.length = 0;
  }

  async stop(): Promise<void> {
    await Promise.all([this.rpc?.stop(), this.log?.stop().catch(() => undefined), this.usdt?.stop()]);
  }
}
