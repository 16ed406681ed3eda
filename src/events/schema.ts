/**
 * Runtime validation of the event schema (src/events/types.ts), used wherever
 * events cross a process boundary (NATS, archive, JSON input). The compile-time
 * checks at the bottom keep these schemas and the TypeScript types in step.
 */
import { z } from 'zod';
import { compileCheck, type Check } from './compile.js';
import { NETWORK_NAMES } from '../protocol/networks.js';
import { count, hash, messageDataSchema, u64 } from './message-summary.js';
import { nodeExtrasSchema, peerExtrasSchema } from './node-extras.js';
import {
  EVENT_TYPES,
  SCHEMA_VERSION,
  type EventDataByType,
  type EventType,
  type JsonValue,
  type ObserverEvent,
  type ViolationKind,
  type CloseReason,
} from './types.js';

/** Raw payloads: at most a maximal message (4,000,000 bytes) in base64. */
const base64 = z
  .string()
  .max(Math.ceil(4_000_000 / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
/** Deepest nesting accepted in a free-form JSON value (summaries are a few levels deep). */
const MAX_JSON_DEPTH = 32;

/**
 * A JSON value (what JSON.parse can return, finite numbers only), checked by a
 * plain recursive walk: zod's lazy union costs milliseconds on a 1000-entry addr
 * summary, which made validation the bottleneck of every bus consumer.
 */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isJsonValue(item, depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) if (!isJsonValue((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

/** Free-form JSON (alert evidence samples), checked natively by the compiled check. */
export const jsonValue = z.custom<JsonValue>((v) => isJsonValue(v), { message: 'a JSON value' });

const connRef = z.object({ id: count, direction: z.enum(['inbound', 'outbound', 'unknown']), remote: z.string() }).strict();
const transport = z.enum(['v1', 'v2', 'unknown']);
const connType = z.string().max(32);
const nullableCount = count.nullable();
const network = z.enum(NETWORK_NAMES);

/** Every reason a connection closes (see CloseReason in types.ts). */
export const CLOSE_REASONS = [
  'peer-closed',
  'protocol-violation',
  'handshake-timeout',
  'ping-timeout',
  'limit',
  'shutdown',
  'socket-error',
  'connect-failed',
  'evicted',
  'unknown',
] as const satisfies readonly CloseReason[];
const closeReason = z.enum(CLOSE_REASONS);

/** Every violation kind (see ViolationKind in types.ts). */
export const VIOLATION_KINDS = [
  'v2-transport',
  'wrong-network',
  'bad-magic',
  'oversize',
  'bad-checksum',
  'invalid-command',
  'malformed-payload',
  'message-before-version',
  'message-before-verack',
  'duplicate-version',
  'obsolete-version',
  'self-connection',
  'feature-after-verack',
  'handshake-timeout',
  'ping-timeout',
  'unsolicited-pong',
  'service-not-offered',
  'misbehaving',
  'v2-missing-garbage-terminator',
  'v2-oversize-packet',
  'v2-decryption-failure',
  'v1-after-v2',
  'v2-invalid-message-type',
  'v2-unknown-message-id',
] as const satisfies readonly ViolationKind[];
const violationKind = z.enum(VIOLATION_KINDS);
/** BIP324 session id: 32 bytes, hex. */
const sessionId = z.string().regex(/^[0-9a-f]{64}$/);
const garbageLength = z.number().int().min(0).max(4095);

const severity = z.enum(['info', 'warning', 'critical']);
const alertStatus = z.enum(['active', 'resolved']);
const timeUs = z.number().int().nonnegative();
const alertSubject = z.object({ kind: z.enum(['peer', 'netgroup', 'asn', 'node', 'network']), id: z.string().max(256) }).strict();

export const EVENT_DATA_SCHEMAS = {
  'connection.opened': z
    .object({
      conn: connRef,
      local: z.string(),
      network,
      netgroup: z.string(),
      transport,
      connType: connType.optional(),
    })
    .strict(),
  'connection.closed': z
    .object({
      conn: connRef,
      network,
      netgroup: z.string(),
      reason: closeReason,
      detail: z.string(),
      durationMs: z.number().finite().nonnegative(),
      handshakeComplete: z.boolean(),
      bytesIn: count,
      bytesOut: count,
      messagesIn: count,
      messagesOut: count,
      connType: connType.optional(),
      evictedFor: z.enum(['inbound-full', 'handshake-slots']).optional(),
      transport: transport.optional(),
      sessionId: sessionId.optional(),
      garbageLength: garbageLength.optional(),
      decoysIn: count.optional(),
    })
    .strict(),
  message: messageDataSchema({ conn: connRef, dir: z.enum(['in', 'out']), size: count, raw: base64.optional() }),
  'handshake.version': z
    .object({
      conn: connRef,
      version: z.number().int(),
      services: u64,
      serviceNames: z.array(z.string()),
      userAgent: z.string(),
      startHeight: z.number().int().nullable(),
      relay: z.boolean(),
      nonce: u64,
      timeOffsetSec: z.number().finite(),
      receiver: z.string(),
      sender: z.string().nullable(),
    })
    .strict(),
  'handshake.complete': z
    .object({
      conn: connRef,
      elapsedMs: z.number().finite().nonnegative(),
      wtxidRelay: z.boolean(),
      addrV2: z.boolean(),
      version: z.number().int().optional(),
      userAgent: z.string().optional(),
      startHeight: z.number().int().optional(),
      connType: connType.optional(),
      transport: transport.optional(),
      sessionId: sessionId.optional(),
      garbageLength: garbageLength.optional(),
    })
    .strict(),
  'ping.latency': z.object({ conn: connRef, nonce: u64, latencyMs: z.number().finite().nonnegative() }).strict(),
  violation: z
    .object({
      conn: connRef,
      kind: violationKind,
      action: z.enum(['disconnect', 'drop-message', 'none']),
      detail: z.string(),
      command: z.string().optional(),
      size: count.optional(),
      raw: base64.optional(),
    })
    .strict(),
  'pipeline.counters': z.object({ stage: z.string(), counters: z.record(z.string(), z.number().finite()) }).strict(),
  'peer.stats': z
    .object({
      conn: connRef,
      connType,
      transport,
      network,
      netgroup: z.string(),
      version: z.number().int(),
      userAgent: z.string(),
      services: u64,
      startHeight: z.number().int().nullable(),
      syncedBlocks: z.number().int().nullable(),
      connTime: z.number().int(),
      timeOffsetSec: z.number().finite(),
      pingMs: z.number().finite().nonnegative().nullable(),
      minPingMs: z.number().finite().nonnegative().nullable(),
      bytesIn: count,
      bytesOut: count,
      bytesInPerMsg: z.record(z.string(), count),
      bytesOutPerMsg: z.record(z.string(), count),
      addrProcessed: nullableCount,
      addrRateLimited: nullableCount,
      addrRelayEnabled: z.boolean().nullable(),
      relayTxes: z.boolean().nullable(),
      permissions: z.array(z.string()),
      extras: peerExtrasSchema.optional(),
    })
    .strict(),
  'node.status': z
    .object({
      chain: z.string().nullable(),
      blocks: z.number().int().nullable(),
      headers: z.number().int().nullable(),
      bestBlockHash: hash.nullable(),
      initialBlockDownload: z.boolean().nullable(),
      verificationProgress: z.number().finite().nullable(),
      staleTips: nullableCount,
      invalidTips: nullableCount,
      version: z.number().int().nullable(),
      subversion: z.string().nullable(),
      networkActive: z.boolean().nullable(),
      connections: z.object({ total: count, inbound: count, outbound: count }).strict().nullable(),
      totalBytesIn: nullableCount,
      totalBytesOut: nullableCount,
      mempool: z
        .object({ size: count, bytes: count, usage: count, minFeeBtcPerKvB: z.number().finite().nonnegative() })
        .strict()
        .nullable(),
      addrman: z.object({ new: count, tried: count, total: count }).strict().nullable(),
      addrmanTopSources: z.array(z.object({ source: z.string(), count }).strict()).nullable(),
      uptimeSec: nullableCount,
      banned: nullableCount,
      warnings: z.array(z.string()),
      extras: nodeExtrasSchema.optional(),
    })
    .strict(),
  'rpc.status': z
    .object({
      state: z.enum(['up', 'down', 'warming-up', 'auth-failed', 'error']),
      url: z.string(),
      detail: z.string(),
      failures: count,
      retryMs: z.number().finite().nonnegative(),
      unsupported: z.array(z.string()),
    })
    .strict(),
  'addr.received': z.object({ conn: connRef, addresses: count, processed: count, rateLimited: count }).strict(),
  'block.connected': z
    .object({
      hash: hash,
      height: count,
      transactions: nullableCount,
      inputs: nullableCount,
      sigops: nullableCount,
      durationMs: z.number().finite().nonnegative().nullable(),
    })
    .strict(),
  'mempool.tx': z
    .object({
      action: z.enum(['accepted', 'rejected', 'removed', 'replaced']),
      txid: hash,
      wtxid: hash.nullable(),
      vsize: nullableCount,
      feeSat: z
        .string()
        .regex(/^-?(0|[1-9][0-9]{0,19})$/, 'satoshis as a decimal string')
        .nullable(),
      reason: z.string().max(256).nullable(),
      peerId: nullableCount,
      replacedBy: hash.nullable(),
      replacement: z
        .object({
          vsize: nullableCount,
          feeSat: z
            .string()
            .regex(/^-?(0|[1-9][0-9]{0,19})$/, 'satoshis as a decimal string')
            .nullable(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  'connectivity.result': z
    .object({
      addr: z.string().max(256),
      sourcePeer: z.string().max(256),
      reachable: z.boolean(),
      reason: z.string().max(64),
      latencyMs: z.number().finite().nonnegative().nullable(),
      detail: z.string().max(256).optional(),
      userAgent: z.string().max(1024).optional(),
    })
    .strict(),
  'connectivity.summary': z
    .object({
      advertised: count,
      tried: count,
      reachable: count,
      reachableShare: z.number().min(0).max(1).nullable(),
      probes: count,
      notTried: z.record(z.string(), count),
      skipped: z.record(z.string(), count),
      cacheHits: count,
      coalesced: count,
      dropped: count,
      queued: count,
      inFlight: count,
      cacheSize: count,
      sources: z
        .array(
          z
            .object({
              sourcePeer: z.string().max(256),
              nodeId: z.string().max(64),
              advertised: count,
              tried: count,
              reachable: count,
              reachableShare: z.number().min(0).max(1).nullable(),
              notTried: count,
            })
            .strict(),
        )
        .max(100),
    })
    .strict(),
  alert: z
    .object({
      id: z.string().min(1).max(128),
      detector: z.string().min(1).max(64),
      severity,
      subject: alertSubject,
      summary: z.string().max(1024),
      firstSeenUs: timeUs,
      lastSeenUs: timeUs,
      status: alertStatus,
      resolvedUs: timeUs.optional(),
      nodeIds: z.array(z.string()).max(256),
      count,
      evidence: z.object({ counts: z.record(z.string(), z.number().finite()), samples: z.array(jsonValue).max(10) }).strict(),
      netgroup: z.string().optional(),
      incidentId: z.string().max(128),
    })
    .strict(),
  incident: z
    .object({
      id: z.string().min(1).max(128),
      title: z.string().max(1024),
      severity,
      status: alertStatus,
      firstSeenUs: timeUs,
      lastSeenUs: timeUs,
      resolvedUs: timeUs.optional(),
      alertIds: z.array(z.string()),
      subjects: z.array(alertSubject),
      netgroups: z.array(z.string()),
      detectors: z.array(z.string()),
      nodeIds: z.array(z.string()),
    })
    .strict(),
} as const satisfies { [T in EventType]: z.ZodTypeAny };

/** The documented node id (docs/events.md): 1-64 of `A-Za-z0-9._-`; no path, no control characters. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const envelopeBase = z
  .object({
    v: z.literal(SCHEMA_VERSION),
    type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
    nodeId: z.string().min(1).max(64).regex(NODE_ID_PATTERN, 'expected 1-64 letters, digits, ".", "_" or "-"'),
    timeUs: z.number().int().nonnegative(),
    source: z.string().min(1).max(32),
    data: z.unknown(),
  })
  .strict();

export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
}

/**
 * The same schemas compiled into in-place checks (compile.ts): a value they
 * accept is exactly what zod would return, so it is returned as it is, with no
 * copy. What they do not accept goes through zod, for its verdict and message.
 */
const fastEnvelope = compileCheck(envelopeBase);
const fastData = Object.fromEntries(
  EVENT_TYPES.map((t) => [t, compileCheck(EVENT_DATA_SCHEMAS[t], new Map([[jsonValue, isJsonValue]]))]),
) as Record<EventType, Check>;

/** Validate an unknown value as an event; throws EventValidationError naming the first bad field. */
export function parseEvent(value: unknown): ObserverEvent {
  if (fastEnvelope(value) && fastData[(value as ObserverEvent).type]((value as ObserverEvent).data)) return value as ObserverEvent;
  return parseEventWithZod(value);
}

/** parseEvent through zod alone (the reference the compiled checks are tested against). */
export function parseEventWithZod(value: unknown): ObserverEvent {
  const env = envelopeBase.safeParse(value);
  if (!env.success) throw new EventValidationError(describe(env.error));
  const data = EVENT_DATA_SCHEMAS[env.data.type].safeParse(env.data.data);
  if (!data.success) throw new EventValidationError(`${env.data.type}: ${describe(data.error, 'data')}`);
  return { ...env.data, data: data.data } as ObserverEvent;
}

function describe(error: z.ZodError, prefix = ''): string {
  const issue = deepest(error.issues[0]!);
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  return `${path || '<event>'}: ${issue.message}`;
}

/** Within a union (a message's payload, keyed by command), the issue of the option that got furthest: the one that names the bad field. */
function deepest(issue: z.ZodIssue): z.ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  let best: z.ZodIssue = issue;
  for (const e of issue.unionErrors) {
    const candidate = deepest(e.issues[0]!);
    if (candidate.path.length > best.path.length) best = candidate;
  }
  return best;
}

// Compile-time: each schema's output must be exactly its TypeScript type.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SchemaMatches = { [T in EventType]: Exact<z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>, EventDataByType[T]> };
const schemasMatchTypes: SchemaMatches = {
  'connection.opened': true,
  'connection.closed': true,
  message: true,
  'handshake.version': true,
  'handshake.complete': true,
  'ping.latency': true,
  violation: true,
  'pipeline.counters': true,
  'peer.stats': true,
  'node.status': true,
  'rpc.status': true,
  'addr.received': true,
  'block.connected': true,
  'mempool.tx': true,
  'connectivity.result': true,
  'connectivity.summary': true,
  alert: true,
  incident: true,
};
void schemasMatchTypes;
