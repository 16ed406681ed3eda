/**
 * `peer-observer simulate`: run one attack (or honest) scenario from
 * src/simulate/scenarios/ against a target, with real TCP peers built on our
 * codec, from many loopback source addresses. Loopback targets only unless
 * --allow-non-loopback is given; the check happens before anything connects.
 */
import type { Command } from 'commander';
import { parseEndpoint } from '../protocol/address.js';
import { networkByName, type NetworkName } from '../protocol/networks.js';
import { checkTarget, runSimulation, TargetRefusedError, TargetUnreachableError, type SimulationResult } from '../simulate/runner.js';
import { SCENARIOS, SCENARIO_NAMES, scenarioByName } from '../simulate/scenarios/index.js';
import type { ConnectFn } from '../simulate/kit.js';
import { RuntimeError, UsageError } from './errors.js';
import { flagValue } from './settings/values.js';
import type { Io } from './pipeline.js';

export interface SimulateOptions {
  target: { host: string; port: number };
  scenario: string;
  network: NetworkName;
  peers?: number;
  rate?: number;
  /** Seconds; until interrupted when absent. */
  duration?: number;
  allowNonLoopback: boolean;
  json: boolean;
}

export interface SimulateFlags {
  target?: string;
  scenario?: string;
  network?: string;
  peers?: string;
  rate?: string;
  duration?: string;
  allowNonLoopback?: boolean;
  json?: boolean;
  list?: boolean;
}

export const MAX_SIMULATE_PEERS = 5000;

const NUMBER = /^\s*[0-9]+(\.[0-9]+)?\s*$/;

/** Validate the flags; one-line errors naming the flag. The loopback rule is checked here, before anything connects. */
export function parseSimulateFlags(flags: SimulateFlags): SimulateOptions {
  const network = flags.network ?? 'regtest';
  const parsedNetwork = flagValue('network', network);
  if (flags.scenario === undefined) throw new UsageError(`--scenario is required: one of ${SCENARIO_NAMES.join(', ')} (see --list)`);
  if (!scenarioByName(flags.scenario)) {
    throw new UsageError(`--scenario ${JSON.stringify(flags.scenario)}: expected one of ${SCENARIO_NAMES.join(', ')}`);
  }
  if (flags.target === undefined) throw new UsageError('--target host:port is required (e.g. --target 127.0.0.1:18444)');
  let target: { host: string; port: number };
  try {
    target = parseEndpoint(flags.target, networkByName(parsedNetwork).defaultPort);
  } catch (err) {
    throw new UsageError(`--target ${JSON.stringify(flags.target)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const allowNonLoopback = flags.allowNonLoopback ?? false;
  try {
    checkTarget(target.host, allowNonLoopback);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw new UsageError(`--target ${JSON.stringify(flags.target)}: ${err.message}`);
    throw err;
  }
  const num = (flag: string, text: string | undefined, min: number, max: number, integer: boolean, what: string) => {
    if (text === undefined) return undefined;
    const n = NUMBER.test(text) ? Number(text) : NaN;
    if (!(n >= min && n <= max) || (integer && !Number.isInteger(n)))
      throw new UsageError(`${flag} ${JSON.stringify(text)}: expected ${what}`);
    return n;
  };
  const peers = num('--peers', flags.peers, 1, MAX_SIMULATE_PEERS, true, `an integer from 1 to ${MAX_SIMULATE_PEERS}`);
  const rate = num('--rate', flags.rate, 0.001, 1_000_000, false, 'a number greater than 0');
  const duration = num('--duration', flags.duration, 0.001, 1e7, false, 'a number of seconds greater than 0');
  return {
    target,
    scenario: flags.scenario,
    network: parsedNetwork,
    ...(peers !== undefined ? { peers } : {}),
    ...(rate !== undefined ? { rate } : {}),
    ...(duration !== undefined ? { duration } : {}),
    allowNonLoopback,
    json: flags.json ?? false,
  };
}

function targetText(t: { host: string; port: number }): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** One line: the counts a scenario ran up. */
export function formatResult(r: SimulationResult): string {
  const s = r.stats;
  const extra = Object.entries(s.extra).map(([k, v]) => ` ${k}=${v}`);
  return (
    `peer-observer simulate: ${r.scenario} done after ${(r.elapsedMs / 1000).toFixed(1)}s: connections=${s.connections} ` +
    `handshakes=${s.handshakes} connectFailures=${s.connectFailures} bytesSent=${s.bytesSent}${extra.join('')}`
  );
}

export async function simulate(options: SimulateOptions, signal: AbortSignal, io: Io, connect?: ConnectFn): Promise<SimulationResult> {
  const scenario = scenarioByName(options.scenario)!;
  const network = networkByName(options.network);
  const peers = options.peers ?? scenario.defaults.peers;
  const rate = options.rate ?? scenario.defaults.rate;
  io.stderr.write(
    `peer-observer simulate: ${scenario.name} against ${targetText(options.target)} (${network.name}), ${peers} peer(s), ` +
      `rate ${rate} (${scenario.rateUnit}); ${options.duration !== undefined ? `stopping after ${options.duration}s` : 'Ctrl-C to stop'}\n`,
  );
  let result: SimulationResult;
  try {
    result = await runSimulation({
      network,
      target: options.target,
      scenario: scenario.name,
      peers,
      rate,
      ...(options.duration !== undefined ? { durationMs: options.duration * 1000 } : {}),
      allowNonLoopback: options.allowNonLoopback,
      signal,
      ...(connect ? { connect } : {}),
      log: (line) => io.stderr.write(`peer-observer simulate: ${line}\n`),
    });
  } catch (err) {
    if (err instanceof TargetUnreachableError) throw new RuntimeError(err.message);
    throw err;
  }
  if (options.json) io.stdout.write(`${JSON.stringify(result)}\n`);
  else io.stdout.write(`${formatResult(result)}\n`);
  return result;
}

/** `--list`: every scenario, what it does, its parameters and what a detector should see. */
export function scenarioList(): string {
  return SCENARIOS.map(
    (s) =>
      `${s.name}\n  ${s.summary}\n  sources: ${s.sources}\n  --peers default ${s.defaults.peers}; --rate default ${s.defaults.rate} ` +
      `(${s.rateUnit})\n  a detector sees: ${s.detectorSees}\n`,
  ).join('\n');
}

export function registerSimulate(command: Command, context: { signal: AbortSignal; io: Io }): void {
  command
    .option('--target <host:port>', 'the node or observer to attack (loopback only unless --allow-non-loopback)')
    .option('--scenario <name>', `one of: ${SCENARIO_NAMES.join(', ')}`)
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)')
    .option('--peers <n>', "concurrent simulated peers (default: the scenario's; see --list)")
    .option('--rate <r>', "the scenario's rate, in its own unit (see --list)")
    .option('--network <name>', 'mainnet, testnet3, testnet4, signet or regtest (default: regtest)')
    .option('--allow-non-loopback', 'allow a target outside 127.0.0.0/8 and ::1 (only a node you run: this is attack traffic)')
    .option('--json', 'print the final counts as one JSON object')
    .option('--list', 'list the scenarios, their parameters and what a detector should see, then exit')
    .action(async (opts: SimulateFlags) => {
      if (opts.list) {
        context.io.stdout.write(scenarioList());
        return;
      }
      await simulate(parseSimulateFlags(opts), context.signal, context.io);
    });
}
