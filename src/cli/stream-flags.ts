/**
 * Flags of the NATS consumers that read the JetStream stream (`archive`,
 * `log`): `--nats-mode`, `--consumer-name`, `--since`. Each check throws a
 * one-line UsageError naming the flag; each flag also reads its
 * PEER_OBSERVER_* environment variable.
 */
import type { StartAt } from '../bus/durable.js';
import type { NatsMode } from '../bus/modes.js';
import { flagValue } from './settings/values.js';
import { parseTime } from './archive-flags.js';
import { UsageError } from './errors.js';

export interface StreamFlags {
  natsMode?: string;
  consumerName?: string;
  since?: string;
}

export interface StreamOptions {
  mode: NatsMode;
  /** The durable consumer's name: `<command>-<--consumer-name>`. */
  consumer: string;
  start: StartAt;
}

export function parseStreamFlags(
  command: string,
  flags: StreamFlags,
  defaultStart: StartAt,
  env: NodeJS.ProcessEnv = process.env,
  nowUs = Date.now() * 1000,
): StreamOptions {
  const mode = flagValue('natsMode', flags.natsMode ?? env.PEER_OBSERVER_NATS_MODE ?? 'auto');
  const name = flagValue('consumerName', flags.consumerName ?? env.PEER_OBSERVER_CONSUMER_NAME ?? 'default');
  const since = flags.since ?? env.PEER_OBSERVER_SINCE;
  let start = defaultStart;
  if (since === 'start' || since === 'all') start = { kind: 'all' };
  else if (since === 'new') start = { kind: 'new' };
  else if (since !== undefined) start = { kind: 'time', sinceUs: parseTime('--since', since, nowUs) };
  if (since !== undefined && mode === 'core') throw new UsageError('--since needs a JetStream stream (not --nats-mode core)');
  return { mode, consumer: `${command}-${name}`, start };
}

export const STREAM_FLAG_HELP = {
  natsMode: 'auto (JetStream when the server has it; default), jetstream or core (docs/bus.md)',
  consumerName: 'the durable consumer is <command>-<name> on the server; it resumes where it stopped (default: default)',
  since: 'where a new consumer starts: start (the oldest event kept), new, or a time (2024-06-01T12:00:00Z, -1h)',
};
