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
import { startLogSource, type LogSource } from '../sources/log/source.js';
import { startRpcSource, type RpcSource } from '../sources/rpc/source.js';
import { startUsdtSource, type UsdtSource } from '../sources/usdt/source.js';
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

export interface CoreSources {
  /** One line per running source, for the start-up message. */
  describe(): string[];
  stop(): Promise<void>;
}

export function startCoreSources(
  config: CoreSourcesConfig,
  context: { nodeId: string; network: NetworkName; publish: (e: ObserverEvent) => void; status: (line: string) => void },
): CoreSources {
  const base = { nodeId: context.nodeId, network: context.network, publish: context.publish };
  const parts: string[] = [];
  let rpc: RpcSource | undefined;
  let log: LogSource | undefined;
  let usdt: UsdtSource | undefined;
  if (config.rpc) {
    rpc = startRpcSource({
      ...base,
      url: config.rpc.url,
      auth: config.rpc.auth,
      peersIntervalMs: config.rpc.peersIntervalMs,
      statusIntervalMs: config.rpc.statusIntervalMs,
      onStatus: context.status,
    });
    parts.push(`rpc ${redactUrl(config.rpc.url)}`);
  }
  if (config.log) {
    log = startLogSource({ ...base, path: config.log.path, fromStart: config.log.fromStart });
    log.done.catch((e: unknown) => context.status(`log ${config.log!.path}: ${e instanceof Error ? e.message : String(e)}`));
    parts.push(`debug.log ${config.log.path}`);
  }
  if (config.usdt) {
    usdt = startUsdtSource({ ...base, ...config.usdt, onStatus: context.status });
    usdt.done.catch((e: unknown) => context.status(e instanceof Error ? e.message : String(e)));
    parts.push('input' in config.usdt ? `usdt ${config.usdt.input}` : `usdt bitcoind pid ${config.usdt.bitcoindPid}`);
  }
  return {
    describe: () => parts,
    async stop() {
      await Promise.all([rpc?.stop(), log?.stop().catch(() => undefined), usdt?.stop()]);
    },
  };
}
