/**
 * `peer-observer run`'s sources that watch a Bitcoin Core node — rpc
 * (`--rpc-url`), log (`--debug-log`) and usdt (`--usdt --bitcoind-pid`, or
 * `--usdt-input`) — from the config to running sources publishing into the
 * pipeline's bus beside the p2p observer. See docs/sources.md.
 */
import type { ObserverEvent } from '../events/types.js';
import type { NetworkName } from '../protocol/networks.js';
import type { RpcAuth } from '../sources/rpc/client.js';
import { redactUrl } from '../sources/rpc/client.js';
import { startLogSource } from '../sources/log/source.js';
import { startRpcSource } from '../sources/rpc/source.js';
import { startUsdtSource } from '../sources/usdt/source.js';
import type { Component, ComponentContext, Counters } from '../runtime/component.js';
import { DEFAULTS, type ConfigLayer } from './settings/index.js';
import { flagOf } from './settings/define.js';
import { UsageError } from './errors.js';

export interface CoreSourcesConfig {
  rpc: { url: string; auth: RpcAuth; peersIntervalMs: number; statusIntervalMs: number } | null;
  log: { path: string; fromStart: boolean } | null;
  usdt: { bitcoindPid: number } | { input: string } | null;
}

/** The core-source part of the merged config, with the combinations checked. */
export function coreSourcesConfig(c: ConfigLayer): CoreSourcesConfig {
  let rpc: CoreSourcesConfig['rpc'] = null;
  const rpcOnly = (['rpcCookie', 'rpcUser', 'rpcPassword', 'rpcInterval', 'rpcStatusInterval'] as const).find((k) => c[k] !== undefined);
  if (c.rpcUrl === undefined) {
    if (rpcOnly) throw new UsageError(`${flagOf(rpcOnly)} needs --rpc-url (the node it is for)`);
  } else {
    if (c.rpcCookie !== undefined && (c.rpcUser !== undefined || c.rpcPassword !== undefined))
      throw new UsageError('--rpc-cookie and --rpc-user/--rpc-password: give one way to authenticate');
    let auth: RpcAuth;
    if (c.rpcCookie !== undefined) auth = { kind: 'cookie', file: c.rpcCookie };
    else if (c.rpcUser !== undefined && c.rpcPassword !== undefined) auth = { kind: 'password', user: c.rpcUser, password: c.rpcPassword };
    else if (c.rpcUser !== undefined || c.rpcPassword !== undefined)
      throw new UsageError('--rpc-user and --rpc-password go together (or use --rpc-cookie)');
    else throw new UsageError('--rpc-url needs --rpc-cookie FILE (e.g. ~/.bitcoin/.cookie) or --rpc-user and --rpc-password');
    const u = new URL(c.rpcUrl);
    if (u.username || u.password)
      throw new UsageError(
        `--rpc-url ${redactUrl(c.rpcUrl)}: put credentials in --rpc-cookie or --rpc-user/--rpc-password, not in the URL`,
      );
    rpc = {
      url: c.rpcUrl,
      auth,
      peersIntervalMs: Math.round((c.rpcInterval ?? DEFAULTS.rpcInterval) * 1000),
      statusIntervalMs: Math.round((c.rpcStatusInterval ?? DEFAULTS.rpcStatusInterval) * 1000),
    };
  }
  if (c.debugLogFromStart !== undefined && c.debugLog === undefined) throw new UsageError('--debug-log-from-start needs --debug-log');
  const log = c.debugLog === undefined ? null : { path: c.debugLog, fromStart: c.debugLogFromStart ?? DEFAULTS.debugLogFromStart };
  let usdt: CoreSourcesConfig['usdt'] = null;
  if (c.usdtInput !== undefined) {
    if (c.usdt || c.bitcoindPid !== undefined)
      throw new UsageError('--usdt-input reads a trace run elsewhere: not with --usdt/--bitcoind-pid');
    usdt = { input: c.usdtInput };
  } else if (c.usdt) {
    if (c.bitcoindPid === undefined) throw new UsageError('--usdt needs --bitcoind-pid PID (the bitcoind to trace)');
    usdt = { bitcoindPid: c.bitcoindPid };
  } else if (c.bitcoindPid !== undefined) {
    throw new UsageError('--bitcoind-pid is for --usdt');
  }
  return { rpc, log, usdt };
}

/** One running Core source as a runtime component (src/runtime/): its stats() are its counters. */
class CoreSourceComponent implements Component {
  #running: { stop(): Promise<void>; stats(): object } | undefined;
  constructor(
    readonly name: 'rpc' | 'log' | 'usdt',
    /** One line for the start-up message. */
    readonly describe: string,
    private readonly open: (
      publish: (e: ObserverEvent) => void,
      notice: (line: string) => void,
    ) => {
      stop(): Promise<void>;
      stats(): object;
    },
  ) {}
  start(context: ComponentContext): void {
    const bus = context.bus;
    this.#running = this.open((e) => bus.publish(e), context.notice);
  }
  counters(): Counters {
    return (this.#running?.stats() ?? {}) as Counters;
  }
  async stop(): Promise<void> {
    await this.#running?.stop();
  }
}

/**
 * `run`'s Core sources as components for the plan (cli/plan.ts), started after
 * the p2p observer; each publishes into the plan's bus, and the runtime
 * publishes their counters (stages `rpc`, `log`, `usdt`).
 */
export function coreSourceComponents(
  config: CoreSourcesConfig,
  context: { nodeId: string; network: NetworkName },
): (Component & { readonly describe: string })[] {
  const base = { nodeId: context.nodeId, network: context.network };
  const out: CoreSourceComponent[] = [];
  const rpc = config.rpc;
  if (rpc) {
    out.push(
      new CoreSourceComponent('rpc', `rpc ${redactUrl(rpc.url)}`, (publish, notice) =>
        startRpcSource({
          ...base,
          publish,
          url: rpc.url,
          auth: rpc.auth,
          peersIntervalMs: rpc.peersIntervalMs,
          statusIntervalMs: rpc.statusIntervalMs,
          onStatus: notice,
        }),
      ),
    );
  }
  const log = config.log;
  if (log) {
    out.push(
      new CoreSourceComponent('log', `debug.log ${log.path}`, (publish, notice) => {
        const source = startLogSource({ ...base, publish, path: log.path, fromStart: log.fromStart, publishCounters: false });
        source.done.catch((e: unknown) => notice(`log ${log.path}: ${e instanceof Error ? e.message : String(e)}`));
        return { stats: () => source.stats(), stop: () => source.stop().catch(() => undefined) };
      }),
    );
  }
  const usdt = config.usdt;
  if (usdt) {
    const what = 'input' in usdt ? `usdt ${usdt.input}` : `usdt bitcoind pid ${usdt.bitcoindPid}`;
    out.push(
      new CoreSourceComponent('usdt', what, (publish, notice) => {
        const source = startUsdtSource({ ...base, publish, ...usdt, onStatus: notice, publishCounters: false });
        source.done.catch((e: unknown) => notice(e instanceof Error ? e.message : String(e)));
        return source;
      }),
    );
  }
  return out;
}
