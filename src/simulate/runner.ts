/**
 * Running a scenario against a target: the loopback-only rule (checked before
 * any connection is attempted), the duration, and the final counts.
 */
import { setMaxListeners } from 'node:events';
import { classifyIp, ipFromString } from '../protocol/address.js';
import type { Network } from '../protocol/networks.js';
import type { ConnectFn } from './kit.js';
import { makeContext, type ScenarioStats } from './scenario.js';
import { scenarioByName, SCENARIO_NAMES } from './scenarios/index.js';

export interface SimulationOptions {
  network: Network;
  target: { host: string; port: number };
  scenario: string;
  /** Defaults: the scenario's. */
  peers?: number;
  rate?: number;
  /** Stop after this long; otherwise run until the signal aborts. */
  durationMs?: number;
  /** Permit a target outside 127.0.0.0/8 and ::1. */
  allowNonLoopback?: boolean;
  signal?: AbortSignal;
  /** How connections are opened (tests pass a spy). */
  connect?: ConnectFn;
  log?: (line: string) => void;
}

export interface SimulationResult {
  scenario: string;
  peers: number;
  rate: number;
  elapsedMs: number;
  stats: ScenarioStats;
}

/** A target this tool refuses (before any connection is attempted). */
export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
}

/** The target accepted none of the first attempts. */
export class TargetUnreachableError extends Error {
  override readonly name = 'TargetUnreachableError';
}

/** Is `host` a loopback address? Only IP literals and `localhost` count: a name could resolve anywhere. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  try {
    return classifyIp(ipFromString(host)) === 'loopback';
  } catch {
    return false;
  }
}

/** Throws TargetRefusedError for a non-loopback target unless allowed; call before anything connects. */
export function checkTarget(host: string, allowNonLoopback: boolean): void {
  if (allowNonLoopback || isLoopbackHost(host)) return;
  throw new TargetRefusedError(
    `target ${host} is not a loopback address: the simulator sends attack traffic, so it dials 127.0.0.0/8 or ::1 only ` +
      '(pass --allow-non-loopback to attack a node you run elsewhere)',
  );
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationResult> {
  const scenario = scenarioByName(o.scenario);
  if (!scenario) throw new Error(`unknown scenario ${JSON.stringify(o.scenario)} (known: ${SCENARIO_NAMES.join(', ')})`);
  checkTarget(o.target.host, o.allowNonLoopback ?? false);
  const stop = new AbortController();
  // One listener per concurrent peer is expected here, not a leak.
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) stop.abort();
  const timer = o.durationMs !== undefined ? setTimeout(() => stop.abort(), o.durationMs) : undefined;
  let unreachable: Error | undefined;
  const peers = o.peers ?? scenario.defaults.peers;
  const rate = o.rate ?? scenario.defaults.rate;
  const ctx = makeContext({
    network: o.network,
    target: o.target,
    peers,
    rate,
    signal: stop.signal,
    // 127.x.y.z sources reach IPv4 loopback only; for ::1 or localhost, the system picks.
    loopbackSources: o.target.host.startsWith('127.') && isLoopbackHost(o.target.host),
    ...(o.connect ? { connect: o.connect } : {}),
    ...(o.log ? { log: o.log } : {}),
    onUnreachable: (err) => {
      unreachable = err;
      stop.abort();
    },
  });
  const t0 = performance.now();
  try {
    await scenario.run(ctx);
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
  if (unreachable) {
    throw new TargetUnreachableError(
      `cannot connect to ${o.target.host}:${o.target.port}: ${unreachable.message} (${ctx.stats.connectFailures} attempts)`,
    );
  }
  return { scenario: scenario.name, peers, rate, elapsedMs: Math.round(performance.now() - t0), stats: ctx.stats };
}
