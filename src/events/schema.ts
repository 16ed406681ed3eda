/**
 * Runtime validation of the event schema (src/events/types.ts), used wherever
 * events cross a process boundary (NATS, archive, JSON input). The compile-time
 * checks at the bottom keep these schemas and the TypeScript types in step.
 */
import { z } from 'zod';
import { NETWORK_NAMES } from '../protocol/networks.js';
import { EVENT_TYPES, SCHEMA_VERSION, type EventDataByType, type EventType, type JsonValue, type ObserverEvent } from './types.js';

const u64Decimal = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'a u64 as a decimal string');
const count = z.number().int().nonnegative();
/** Raw payloads: at most a maximal message (4,000,000 bytes) in base64. */
const base64 = z
  .string()
  .max(Math.ceil(4_000_000 / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const connRef = z.object({ id: count, direction: z.enum(['inbound', 'outbound']), remote: z.string() }).strict();
const network = z.enum(NETWORK_NAMES);

const closeReason = z.enum([
  'peer-closed',
  'protocol-violation',
  'handshake-timeout',
  'ping-timeout',
  'limit',
  'shutdown',
  'socket-error',
  'connect-failed',
]);

const violationKind = z.enum([
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
]);

export const EVENT_DATA_SCHEMAS = {
  'connection.opened': z.object({ conn: connRef, local: z.string(), network, netgroup: z.string(), transport: z.literal('v1') }).strict(),
  'connection.closed': z
    .object({
      conn: connRef,
      network,
      netgroup: z.string(),
      reason: closeReason,
      detail: z.string(),
      durationMs: z.number().nonnegative(),
      handshakeComplete: z.boolean(),
      bytesIn: count,
      bytesOut: count,
      messagesIn: count,
      messagesOut: count,
    })
    .strict(),
  message: z
    .object({
      conn: connRef,
      dir: z.enum(['in', 'out']),
      command: z.string().max(12),
      size: count,
      known: z.boolean(),
      payload: jsonValue,
      raw: base64.optional(),
    })
    .strict(),
  'handshake.version': z
    .object({
      conn: connRef,
      version: z.number().int(),
      services: u64Decimal,
      serviceNames: z.array(z.string()),
      userAgent: z.string(),
      startHeight: z.number().int().nullable(),
      relay: z.boolean(),
      nonce: u64Decimal,
      timeOffsetSec: z.number(),
      receiver: z.string(),
      sender: z.string().nullable(),
    })
    .strict(),
  'handshake.complete': z
    .object({ conn: connRef, elapsedMs: z.number().nonnegative(), wtxidRelay: z.boolean(), addrV2: z.boolean() })
    .strict(),
  'ping.latency': z.object({ conn: connRef, nonce: u64Decimal, latencyMs: z.number().nonnegative() }).strict(),
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
  'pipeline.counters': z.object({ stage: z.string(), counters: z.record(z.string(), z.number()) }).strict(),
} as const satisfies { [T in EventType]: z.ZodTypeAny };

const envelopeBase = z
  .object({
    v: z.literal(SCHEMA_VERSION),
    type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
    nodeId: z.string().min(1).max(64),
    timeUs: z.number().int().nonnegative(),
    source: z.string().min(1).max(32),
    data: z.unknown(),
  })
  .strict();

export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
}

/** Validate an unknown value as an event; throws EventValidationError naming the first bad field. */
export function parseEvent(value: unknown): ObserverEvent {
  const env = envelopeBase.safeParse(value);
  if (!env.success) throw new EventValidationError(describe(env.error));
  const data = EVENT_DATA_SCHEMAS[env.data.type].safeParse(env.data.data);
  if (!data.success) throw new EventValidationError(`${env.data.type}: ${describe(data.error, 'data')}`);
  return { ...env.data, data: data.data } as ObserverEvent;
}

function describe(error: z.ZodError, prefix = ''): string {
  const issue = error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  return `${path || '<event>'}: ${issue.message}`;
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
};
void schemasMatchTypes;
