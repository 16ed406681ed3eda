/**
 * `peer-observer nats setup --nats URL`: create the JetStream stream the
 * observers publish into, or check an existing one and set its limits
 * (docs/bus.md, "Durable streams"). Prints the stream's state in one line:
 * messages, bytes, how full, and how many messages its limits have removed.
 * Every flag also reads its PEER_OBSERVER_* environment variable.
 */
import type { Command } from 'commander';
import { connect } from '@nats-io/transport-node';
import { DEFAULT_STREAM_LIMITS, describeStream, ensureStream, hasJetStream, type StreamLimits } from '../bus/jetstream.js';
import { natsCredentials } from '../bus/nats.js';
import { parseNatsFlags } from './settings/values.js';
import { parsePositive } from './archive-flags.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';
import { collectList } from './settings/define.js';

export interface SetupFlags {
  nats?: string[];
  streamName?: string;
  maxAge?: string;
  maxBytes?: string;
  replicas?: string;
  duplicateWindow?: string;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const UNIT_BYTES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `30s`, `15m`, `2h`, `7d`, `1w`. */
export function parseDuration(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]! : NaN;
  if (!(ms >= 1000)) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a duration of at least 1s, like 30s, 15m, 2h, 7d`);
  return Math.round(ms);
}

/** `1073741824`, `512M`, `10G` (binary units). */
export function parseBytes(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  const n = m ? Math.round(Number(m[1]) * UNIT_BYTES[m[2]!.toLowerCase()]!) : NaN;
  if (!(n >= 1024 * 1024)) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a size of at least 1M, like 512M or 10G`);
  return n;
}

export function parseSetupFlags(flags: SetupFlags, env: NodeJS.ProcessEnv = process.env): { nats: string[]; limits: StreamLimits } {
  const nats = parseNatsFlags(flags.nats ?? (env.PEER_OBSERVER_NATS ? env.PEER_OBSERVER_NATS.split(',') : undefined), 'the NATS server');
  const name = flags.streamName ?? env.PEER_OBSERVER_STREAM_NAME ?? DEFAULT_STREAM_LIMITS.name;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new UsageError(`--stream-name ${JSON.stringify(name)}: expected 1-64 letters, digits, "_" or "-"`);
  const d = DEFAULT_STREAM_LIMITS;
  const maxAge = flags.maxAge ?? env.PEER_OBSERVER_STREAM_MAX_AGE;
  const maxBytes = flags.maxBytes ?? env.PEER_OBSERVER_STREAM_MAX_BYTES;
  const replicas = flags.replicas ?? env.PEER_OBSERVER_STREAM_REPLICAS;
  const window = flags.duplicateWindow ?? env.PEER_OBSERVER_STREAM_DUPLICATE_WINDOW;
  const limits: StreamLimits = {
    name,
    maxAgeMs: maxAge !== undefined ? parseDuration('--max-age', maxAge) : d.maxAgeMs,
    maxBytes: maxBytes !== undefined ? parseBytes('--max-bytes', maxBytes) : d.maxBytes,
    replicas: replicas !== undefined ? parsePositive('--replicas', replicas, 5, 'a number of copies') : d.replicas,
    duplicateWindowMs: window !== undefined ? parseDuration('--duplicate-window', window) : d.duplicateWindowMs,
  };
  if (!Number.isInteger(limits.replicas)) throw new UsageError(`--replicas ${JSON.stringify(replicas)}: expected 1 to 5`);
  if (limits.duplicateWindowMs > limits.maxAgeMs) throw new UsageError('--duplicate-window must not be longer than --max-age');
  return { nats, limits };
}

export async function natsSetup(options: { nats: string[]; limits: StreamLimits }, io: Io): Promise<void> {
  let nc;
  try {
    nc = await connect({ ...natsCredentials(options.nats), name: 'peer-observer nats setup', timeout: 5000 });
  } catch (err) {
    throw new RuntimeError(`NATS: cannot connect to ${natsCredentials(options.nats).servers.join(', ')}: ${describeError(err)}`);
  }
  try {
    const jsm = await hasJetStream(nc);
    if (!jsm) throw new RuntimeError('NATS: the server has no JetStream (start nats-server with -js, or a jetstream {} block)');
    const r = await ensureStream(jsm, options.limits, true);
    const what = r.created ? 'created' : r.updated ? `updated (${r.differences.join('; ')})` : 'checked, limits as asked';
    io.stdout.write(`${what}: ${describeStream(r.info)}\n`);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`NATS stream ${options.limits.name}: ${describeError(err)}`);
  } finally {
    await nc.close();
  }
}

export function registerNats(nats: Command, context: { io: Io }): void {
  nats
    .command('setup')
    .description('create the JetStream stream observers publish into, or check it and set its limits; prints its state')
    .option('--nats <url>', 'the NATS server (repeatable or comma-separated)', collectList)
    .option('--stream-name <name>', `stream name (default: ${DEFAULT_STREAM_LIMITS.name})`)
    .option('--max-age <duration>', 'remove messages older than this (default: 7d)')
    .option('--max-bytes <size>', 'keep at most this much, oldest removed first (default: 1G)')
    .option('--replicas <n>', 'copies on different servers of a cluster: 1, 3 or 5 (default: 1)')
    .option('--duplicate-window <duration>', 'how long a re-sent Nats-Msg-Id is recognised (default: 2m)')
    .action(async (opts: SetupFlags) => {
      await natsSetup(parseSetupFlags(opts), context.io);
    });
}
