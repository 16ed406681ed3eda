/**
 * `peer-observer run`: the observer node until SIGINT/SIGTERM, with the logger
 * on an embedded bus, or, with `--nats`, publishing its events to NATS for
 * consumers in other processes (`peer-observer log --nats ...`).
 */
import type { Command } from 'commander';
import { networkByName } from '../protocol/networks.js';
import { loadRunConfig, type FlagValues, type RunConfig } from './config.js';
import { aborted, endpointText, startPipeline, type Io } from './pipeline.js';

export async function run(config: RunConfig, signal: AbortSignal, io: Io): Promise<void> {
  const network = networkByName(config.network);
  const pipeline = await startPipeline({
    network,
    nodeId: config.nodeId,
    listen: config.listen,
    connect: config.connect,
    json: config.json,
    limits: config.limits,
    nats: config.nats,
    io,
  });
  const where = pipeline.listening.map(endpointText).join(', ') || 'nowhere';
  const to = config.connect.length ? `; connecting to ${config.connect.map(endpointText).join(', ')}` : '';
  const nats = config.nats.length ? `; publishing to NATS at ${config.nats.join(', ')}` : '';
  io.stderr.write(`peer-observer: ${network.name} node ${config.nodeId} listening on ${where}${to}${nats}\n`);
  await aborted(signal);
  await pipeline.stop();
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable and comma-separated: `--nats a --nats b` or `--nats a,b`. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...(items.length ? items : [value])];
}

export function registerRun(program: Command, context: { signal: AbortSignal; io: Io; env: NodeJS.ProcessEnv }): void {
  program
    .command('run')
    .description('run the observer node: listen for peers, connect to peers, log every connection and message')
    .option('--network <name>', 'mainnet, testnet3, testnet4, signet or regtest (default: mainnet)')
    .option(
      '--listen <host:port>',
      'accept inbound peers here (repeatable; default: 127.0.0.1:<network port> unless --connect is given)',
      collect,
    )
    .option('--connect <host:port>', 'connect out to this node and keep reconnecting (repeatable)', collect)
    .option('--json', 'print one JSON event per line instead of text')
    .option('--node-id <id>', "this observer's name in every event (default: the host name)")
    .option('--config <file>', 'JSON config file (flags > PEER_OBSERVER_* env > file > defaults)')
    .option('--max-connections <n>', 'most inbound peers at once (default: 125)')
    .option('--max-per-ip <n>', 'most inbound peers from one IP address (default: 8)')
    .option('--handshake-timeout <seconds>', 'drop a peer that has not completed version/verack by then (default: 60)')
    .option(
      '--nats <url>',
      'publish events to this NATS server instead of printing them (repeatable or comma-separated for a cluster)',
      collectList,
    )
    .action(async (opts: FlagValues & { config?: string }) => {
      const { config: configFile, ...flags } = opts;
      const config = loadRunConfig({ flags, env: context.env, ...(configFile !== undefined ? { configFile } : {}) });
      await run(config, context.signal, context.io);
    });
}
