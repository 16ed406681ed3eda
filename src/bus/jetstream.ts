/**
 * The JetStream stream the observers publish into (docs/bus.md, "Durable
 * streams"): one stream over every subject (`po.v1.>`), with limits an
 * operator chooses (`peer-observer nats setup`) and defaults that fit a small
 * server. The limits discard the oldest messages (never block a publisher);
 * what they removed is in the stream's state (`removed`), logged, published
 * as counters and shown by /healthz's status line.
 */
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { SUBJECT_ROOT } from './subjects.js';

export const DEFAULT_STREAM = 'PEER_OBSERVER';

export interface StreamLimits {
  /** Stream name (letters, digits, `_`, `-`). */
  name: string;
  /** Messages older than this are removed (ms). */
  maxAgeMs: number;
  /** The stream keeps at most this many bytes; the oldest messages go first. */
  maxBytes: number;
  /** Copies on different servers of a cluster (1, 3 or 5). */
  replicas: number;
  /** How long the server remembers a Nats-Msg-Id to drop a publisher's re-send (ms). */
  duplicateWindowMs: number;
}

/**
 * A small server: a week, at most 1 GiB, one copy, re-sends recognised for two
 * minutes (a publisher re-sends what was unacknowledged when its connection
 * died, within seconds of reconnecting).
 */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  name: DEFAULT_STREAM,
  maxAgeMs: 7 * 86_400_000,
  maxBytes: 1024 ** 3,
  replicas: 1,
  duplicateWindowMs: 120_000,
};

export function streamConfig(limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: limits.name,
    subjects: [`${SUBJECT_ROOT}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas,
    duplicate_window: nanos(limits.duplicateWindowMs),
  };
}

/** True when the server (the account) has JetStream. */
export async function hasJetStream(nc: NatsConnection): Promise<JetStreamManager | null> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await jsm.getAccountInfo();
    return jsm;
  } catch {
    return null;
  }
}

/** How the stream's limits differ from `limits` (empty when they agree). */
export function limitDifferences(info: StreamInfo, limits: StreamLimits): string[] {
  const c = info.config;
  const want = streamConfig(limits);
  const out: string[] = [];
  if (c.max_age !== want.max_age) out.push(`max age ${c.max_age / 1e6} ms, want ${limits.maxAgeMs}`);
  if (c.max_bytes !== want.max_bytes) out.push(`max bytes ${c.max_bytes}, want ${limits.maxBytes}`);
  if (c.num_replicas !== want.num_replicas) out.push(`replicas ${c.num_replicas}, want ${limits.replicas}`);
  if (c.duplicate_window !== want.duplicate_window)
    out.push(`duplicate window ${c.duplicate_window / 1e6} ms, want ${limits.duplicateWindowMs}`);
  if (!c.subjects?.includes(`${SUBJECT_ROOT}.>`)) out.push(`subjects ${JSON.stringify(c.subjects)}, want ${SUBJECT_ROOT}.>`);
  if (c.discard !== DiscardPolicy.Old) out.push(`discard ${c.discard}, want old (a full stream must never block an observer)`);
  return out;
}

export interface EnsuredStream {
  info: StreamInfo;
  created: boolean;
  updated: boolean;
  /** Limits that differ from the ones asked for (when not updating). */
  differences: string[];
}

/**
 * The stream, created with `limits` when missing. With `update`, limits that
 * differ are changed (`nats setup`); without, they are reported (an observer
 * never changes what an operator set).
 */
export async function ensureStream(jsm: JetStreamManager, limits: StreamLimits, update = false): Promise<EnsuredStream> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(limits.name);
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    info = await jsm.streams.add(streamConfig(limits));
    return { info, created: true, updated: false, differences: [] };
  }
  const differences = limitDifferences(info, limits);
  if (update && differences.length) {
    info = await jsm.streams.update(limits.name, { ...info.config, ...streamConfig(limits) });
    return { info, created: false, updated: true, differences };
  }
  return { info, created: false, updated: false, differences };
}

export interface StreamStatus {
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** Messages the limits (age, bytes) or deletions removed since the stream was created. */
  removed: number;
  /** Fill level against max bytes, 0..1 (0 without a byte limit). */
  fill: number;
}

export function streamStatus(info: StreamInfo): StreamStatus {
  const s = info.state;
  const maxBytes = info.config.max_bytes;
  return {
    messages: s.messages,
    bytes: s.bytes,
    firstSeq: s.first_seq,
    lastSeq: s.last_seq,
    removed: Math.max(0, s.last_seq - s.messages),
    fill: maxBytes > 0 ? s.bytes / maxBytes : 0,
  };
}

/** One line for logs and /healthz. */
export function describeStream(info: StreamInfo): string {
  const s = streamStatus(info);
  const c = info.config;
  return (
    `stream ${c.name}: ${s.messages} messages, ${s.bytes} bytes (${(s.fill * 100).toFixed(1)} % of max ${c.max_bytes}), ` +
    `seq ${s.firstSeq}..${s.lastSeq}, removed by limits ${s.removed}; max age ${Math.round(c.max_age / 1e9)} s, ` +
    `R${c.num_replicas}, duplicate window ${Math.round(c.duplicate_window / 1e9)} s`
  );
}
