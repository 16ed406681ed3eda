/**
 * What a scenario is: a named behaviour with documented parameters and a
 * statement of what a detector should see, run against one target until its
 * signal aborts. The runner (runner.ts) builds the context; each scenario module
 * in ./scenarios/ implements `run`.
 */
import type { Network } from '../protocol/networks.js';
import { type ConnectFn, SimPeer } from './kit.js';

export interface ScenarioStats {
  /** TCP connections opened to the target. */
  connections: number;
  /** Connections that could not be opened (refused, timeout). */
  connectFailures: number;
  /** Handshakes that completed (version and verack both ways). */
  handshakes: number;
  /** Messages (or raw writes) sent, by command. */
  sent: Record<string, number>;
  bytesSent: number;
  /** Scenario-specific counts (addresses sent, inv entries, ...). */
  extra: Record<string, number>;
}

export interface ScenarioContext {
  network: Network;
  target: { host: string; port: number };
  /** Concurrent simulated peers (the scenario's meaning of "peer" is in its docs). */
  peers: number;
  /** The scenario's rate, in the unit its `rateUnit` names. */
  rate: number;
  signal: AbortSignal;
  /**
   * Whether to dial from the scenario's own loopback source addresses. False for a
   * non-loopback target (allowed with --allow-non-loopback): 127.x cannot reach it,
   * so every peer comes from this machine's one address.
   */
  loopbackSources: boolean;
  stats: ScenarioStats;
  /** How connections are opened (a test spy, or node:net's connect). */
  connect?: ConnectFn;
  /** Open a connection to the target from `localAddress` (ignored when loopbackSources is false), counted in stats. */
  open(localAddress: string): Promise<SimPeer>;
  /** Count a connection that could not be opened (open() does this itself). */
  connectFailed(error: Error): void;
  /** Fold a finished peer's counts into stats. */
  account(peer: SimPeer): void;
  /** A progress line for the operator (stderr in the CLI). */
  log(line: string): void;
}

export interface Scenario {
  name: string;
  /** One line for `--help` and `--list`. */
  summary: string;
  /** What a detector (or an operator reading the events) should see. */
  detectorSees: string;
  /** Which loopback addresses it dials from. */
  sources: string;
  defaults: { peers: number; rate: number };
  /** What `--rate` means for this scenario. */
  rateUnit: string;
  /** Run until ctx.signal aborts (or the scenario is done). */
  run(ctx: ScenarioContext): Promise<void>;
}

/** Failed attempts, with none succeeding, after which the target counts as unreachable. */
export const UNREACHABLE_AFTER = 5;

export function emptyStats(): ScenarioStats {
  return { connections: 0, connectFailures: 0, handshakes: 0, sent: {}, bytesSent: 0, extra: {} };
}

export function makeContext(input: {
  network: Network;
  target: { host: string; port: number };
  peers: number;
  rate: number;
  signal: AbortSignal;
  loopbackSources: boolean;
  connect?: ConnectFn;
  log?: (line: string) => void;
  /** Called when the target never accepted a connection (the first few attempts all failed). */
  onUnreachable?: (error: Error) => void;
}): ScenarioContext {
  const stats = emptyStats();
  const ctx: ScenarioContext = {
    network: input.network,
    target: input.target,
    peers: input.peers,
    rate: input.rate,
    signal: input.signal,
    loopbackSources: input.loopbackSources,
    stats,
    ...(input.connect ? { connect: input.connect } : {}),
    log: input.log ?? (() => {}),
    async open(localAddress) {
      try {
        const peer = await SimPeer.open({
          network: input.network,
          host: input.target.host,
          port: input.target.port,
          ...(input.loopbackSources ? { localAddress } : {}),
          signal: input.signal,
          ...(input.connect ? { connect: input.connect } : {}),
        });
        stats.connections++;
        return peer;
      } catch (err) {
        ctx.connectFailed(err as Error);
        throw err;
      }
    },
    connectFailed(err) {
      if (input.signal.aborted) return;
      stats.connectFailures++;
      if (stats.connections === 0 && stats.connectFailures === UNREACHABLE_AFTER) input.onUnreachable?.(err);
    },
    account(peer) {
      for (const [k, v] of Object.entries(peer.sent)) stats.sent[k] = (stats.sent[k] ?? 0) + v;
      stats.bytesSent += peer.bytesSent;
    },
  };
  return ctx;
}

/** Add to a scenario-specific count. */
export function bump(stats: ScenarioStats, key: string, by = 1): void {
  stats.extra[key] = (stats.extra[key] ?? 0) + by;
}

/**
 * Run `worker(i)` for i = 0..n-1 concurrently, each restarted (with the next
 * index, after `pauseMs`) when it returns, until the signal aborts. Errors from a
 * worker (a refused connection) are swallowed after a pause: a flood keeps going.
 */
export async function keepRunning(
  n: number,
  signal: AbortSignal,
  worker: (index: number) => Promise<void>,
  pauseMs = 50,
  stagger = 0,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, slot) => {
      if (stagger > 0) await delay(stagger * slot, signal);
      while (!signal.aborted) {
        const i = next++;
        try {
          await worker(i);
        } catch {
          // counted by ctx.open; keep going
        }
        await delay(pauseMs, signal);
      }
    }),
  );
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Paces work at `perSecond` across the whole scenario: resolves when the next unit may go. */
export class Pacer {
  private nextAt = performance.now();
  constructor(
    private readonly perSecond: number,
    private readonly signal: AbortSignal,
  ) {}
  async take(): Promise<boolean> {
    const now = performance.now();
    const wait = this.nextAt - now;
    this.nextAt = Math.max(this.nextAt, now) + 1000 / this.perSecond;
    if (wait > 0) await delay(wait, this.signal);
    return !this.signal.aborted;
  }
}
