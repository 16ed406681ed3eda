/**
 * The message summary, declared once: one zod schema per command, from which
 * come the TypeScript types (z.infer), the runtime check of events that arrive
 * from outside (schema.ts: NATS, archive, replay, JSON input) and its compiled
 * form (compile.ts). The summariser (summary.ts) is typed against these types,
 * so what it produces and what consumers read cannot drift apart.
 *
 * A message event's `command`, `known` and `payload` form a union keyed by
 * command (`MessageSummary`): for a command with a codec (`known: true`) the
 * payload is that command's summary; for any other command (`known: false`) it
 * is the bounded hex of the raw bytes. Consumers discriminate on the event
 * (`d.known && d.command === 'inv'`) and read `summaryOf(d)`, typed, with no
 * field checks of their own.
 *
 * Two sources give less than a summary, and the union says so: the log source
 * sees only the command and size (`payload: null`); the usdt source may hold a
 * payload its trace cut short (`Cut`, or for addr/addrv2/inv/getdata/notfound
 * the entries that fit plus the `Partial` fields) or that the codec refused
 * (`DecodeFailure`, also what a source writes if summarising ever threw). The wire format is the one the summariser has always
 * written (docs/events.md lists every field).
 */
import { z } from 'zod';
import { isKnownCommand } from '../protocol/messages/index.js';
import type { KnownCommand } from '../protocol/messages/types.js';
import { MAX_ADDR_TO_SEND } from '../protocol/limits.js';

/** How many items of a long list a summary shows. */
export const SUMMARY_ITEMS = 16;
/** How many bytes of an unknown payload a summary shows (as hex). */
export const SUMMARY_UNKNOWN_BYTES = 256;

/** Schema pieces the event schema (schema.ts) uses too. */
export const count = z.number().int().nonnegative();
const int = z.number().int();
export const u64 = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'a u64 as a decimal string');
const i64 = z.string().regex(/^(0|-?[1-9][0-9]{0,18})$/, 'an i64 as a decimal string');
export const hash = z.string().regex(/^[0-9a-f]{64}$/, '32 bytes as hex');
const hex = z.string().regex(/^(?:[0-9a-f]{2})*$/, 'bytes as hex');
const hashes = z.array(hash).max(SUMMARY_ITEMS);
const empty = z.object({}).strict();

const netAddr = z.object({ addr: z.string(), port: count, services: u64 }).strict();

/** What a usdt trace cut short still tells of a list message (sources/usdt/payload.ts). */
const partial = {
  /** The trace held fewer bytes than the message: `count` is the declared count, the entries those that fit. */
  truncated: z.literal(true).optional(),
  capturedBytes: count.optional(),
  size: count.optional(),
  entriesCaptured: count.optional(),
};

const inv = z
  .object({
    count,
    /** Entries per inventory type name (tx, wtx, block, witness_tx, ...). */
    types: z.record(z.string(), count),
    /** The first SUMMARY_ITEMS entries. */
    items: z.array(z.object({ type: z.string(), hash }).strict()).max(SUMMARY_ITEMS),
    ...partial,
  })
  .strict();

const locator = z.object({ version: int, locatorCount: count, locator: hashes, stop: hash }).strict();
const filterRange = z.object({ filterType: count, startHeight: count, stopHash: hash }).strict();
const ping = z.object({ nonce: u64 }).strict();

/** The summary of each command with a codec. */
export const SUMMARY_SCHEMAS = {
  version: z
    .object({
      version: int,
      services: u64,
      serviceNames: z.array(z.string()),
      /** The sender's clock (int64 seconds). */
      timestamp: i64,
      receiver: netAddr,
      sender: netAddr.nullable(),
      nonce: u64.nullable(),
      userAgent: z.string().nullable(),
      startHeight: int.nullable(),
      relay: z.boolean().nullable(),
      /** The relay byte when it was neither 0 nor 1. */
      relayByte: count.optional(),
    })
    .strict(),
  verack: empty,
  ping,
  pong: ping,
  getaddr: empty,
  addr: z
    .object({
      count,
      entries: z.array(z.object({ time: count, services: u64, addr: z.string(), port: count }).strict()).max(MAX_ADDR_TO_SEND),
      ...partial,
    })
    .strict(),
  addrv2: z
    .object({
      count,
      entries: z
        .array(z.object({ time: count, services: u64, network: z.string(), addr: z.string(), port: count }).strict())
        .max(MAX_ADDR_TO_SEND),
      ...partial,
    })
    .strict(),
  sendaddrv2: empty,
  inv,
  getdata: inv,
  notfound: inv,
  getheaders: locator,
  getblocks: locator,
  headers: z.object({ count, first: hash.nullable(), last: hash.nullable() }).strict(),
  sendheaders: empty,
  block: z.object({ hash, prevBlock: hash, merkleRoot: hash, time: count, txCount: count }).strict(),
  tx: z
    .object({
      txid: hash,
      wtxid: hash,
      segwit: z.boolean(),
      version: int,
      inputs: count,
      outputs: count,
      lockTime: count,
      size: count,
      vsize: count,
      weight: count,
    })
    .strict(),
  mempool: empty,
  /** Satoshis per kvB (int64). */
  feefilter: z.object({ feeRate: i64 }).strict(),
  sendcmpct: z.object({ announce: z.boolean(), version: u64, announceByte: count.optional() }).strict(),
  cmpctblock: z
    .object({
      hash,
      prevBlock: hash,
      nonce: u64,
      shortIds: count,
      prefilled: count,
      prefilledIndexes: z.array(count).max(SUMMARY_ITEMS),
    })
    .strict(),
  getblocktxn: z.object({ blockHash: hash, count, indexes: z.array(count).max(SUMMARY_ITEMS) }).strict(),
  blocktxn: z.object({ blockHash: hash, txCount: count, txids: hashes }).strict(),
  wtxidrelay: empty,
  filterload: z.object({ size: count, hashFuncs: count, tweak: count, flags: count }).strict(),
  filteradd: z.object({ size: count, data: hex }).strict(),
  filterclear: empty,
  merkleblock: z.object({ hash, totalTxs: count, hashCount: count, flagBytes: count }).strict(),
  getcfilters: filterRange,
  cfilter: z.object({ filterType: count, blockHash: hash, size: count }).strict(),
  getcfheaders: filterRange,
  cfheaders: z.object({ filterType: count, stopHash: hash, prevHeader: hash, count }).strict(),
  getcfcheckpt: z.object({ filterType: count, stopHash: hash }).strict(),
  cfcheckpt: z.object({ filterType: count, stopHash: hash, count }).strict(),
  reject: z.object({ message: z.string(), code: count, reason: z.string(), data: hex.nullable() }).strict(),
} as const satisfies { [K in KnownCommand]: z.ZodTypeAny };

/** A command without a codec: the first SUMMARY_UNKNOWN_BYTES of the payload as hex. */
export const unknownSummarySchema = z.object({ length: count, hex: hex.max(SUMMARY_UNKNOWN_BYTES * 2), truncated: z.boolean() }).strict();

/** usdt: the trace held fewer bytes than the message and nothing more could be read. */
export const cutSchema = z.object({ truncated: z.literal(true), capturedBytes: count, size: count }).strict();
/** usdt: the codec refused the complete payload the trace held. */
export const decodeFailureSchema = z.object({ error: z.string() }).strict();

export type MessageSummaries = { [K in KnownCommand]: z.infer<(typeof SUMMARY_SCHEMAS)[K]> };
export type SummaryOf<K extends KnownCommand> = MessageSummaries[K];
export type UnknownSummary = z.infer<typeof unknownSummarySchema>;
export type Cut = z.infer<typeof cutSchema>;
export type DecodeFailure = z.infer<typeof decodeFailureSchema>;
export type AddrSummary = MessageSummaries['addr'];
export type AddrV2Summary = MessageSummaries['addrv2'];
/** One entry of an addr or addrv2 summary. */
export type AddrEntry = AddrSummary['entries'][number] | AddrV2Summary['entries'][number];
export type InvSummary = MessageSummaries['inv'];
export type TxSummary = MessageSummaries['tx'];
export type VersionSummary = MessageSummaries['version'];

/**
 * The schema of a message event's data: the fields every message has, and a
 * union keyed by command for `command`, `known` and `payload`.
 */
export function messageDataSchema<S extends z.ZodRawShape>(common: S) {
  const known = (Object.keys(SUMMARY_SCHEMAS) as KnownCommand[]).map((command) =>
    z
      .object({
        ...common,
        command: z.literal(command),
        known: z.literal(true),
        payload: z.union([SUMMARY_SCHEMAS[command], cutSchema, decodeFailureSchema]).nullable(),
      })
      .strict(),
  );
  const unknown = z
    .object({
      ...common,
      command: z.string().max(12),
      known: z.literal(false),
      payload: z.union([unknownSummarySchema, cutSchema, decodeFailureSchema]).nullable(),
    })
    .strict();
  return z.union([z.discriminatedUnion('command', known as unknown as [KnownBranches<S>, ...KnownBranches<S>[]]), unknown]);
}

/** The schema of one known command's message event (a precise type, so z.infer gives the union). */
type KnownBranch<S extends z.ZodRawShape, K extends KnownCommand> = z.ZodObject<
  S & {
    command: z.ZodLiteral<K>;
    known: z.ZodLiteral<true>;
    payload: z.ZodNullable<z.ZodUnion<[(typeof SUMMARY_SCHEMAS)[K], typeof cutSchema, typeof decodeFailureSchema]>>;
  },
  'strict'
>;
type KnownBranches<S extends z.ZodRawShape> = { [K in KnownCommand]: KnownBranch<S, K> }[KnownCommand];

/**
 * `command`, `known` and `payload` of a message event, keyed by command. Narrow
 * on `known` then `command`; `summaryOf` gives the payload's summary, typed.
 */
export type MessageSummary =
  | { [K in KnownCommand]: { command: K; known: true; payload: SummaryOf<K> | Cut | DecodeFailure | null } }[KnownCommand]
  | { command: string; known: false; payload: UnknownSummary | Cut | DecodeFailure | null };

/** A known command's part of the union. */
export type KnownMessageSummary<K extends KnownCommand = KnownCommand> = Extract<MessageSummary, { command: K; known: true }>;

/** The summary a message event carries, or undefined when its source had none (log: no payload; usdt: cut short or undecodable). */
export function summaryOf<K extends KnownCommand>(d: {
  command: K;
  known: true;
  payload: SummaryOf<K> | Cut | DecodeFailure | null;
}): SummaryOf<K> | undefined;
export function summaryOf(d: { known: false; payload: UnknownSummary | Cut | DecodeFailure | null }): UnknownSummary | undefined;
export function summaryOf(d: Pick<MessageSummary, 'payload'>): MessageSummaries[KnownCommand] | UnknownSummary | undefined {
  const p = d.payload;
  if (p === null || 'error' in p) return undefined;
  // A bare cut has exactly truncated, capturedBytes and size; a partial list summary carries its count too.
  if ('capturedBytes' in p && !('count' in p)) return undefined;
  return p;
}

/** A message event's `command`, `known` and `payload` for a message whose payload the source did not see (the log source). */
export function withoutPayload(command: string): MessageSummary {
  return withPayload(command, null);
}

/**
 * The same for what a source made of a payload it could not summarise whole
 * (usdt: cut short, partly read, or refused by the codec). The caller passes a
 * list summary only for its own command (addr, addrv2, inv, getdata, notfound).
 */
export function withPayload(
  command: string,
  payload: Cut | DecodeFailure | AddrSummary | AddrV2Summary | InvSummary | null,
): MessageSummary {
  // `known` is decided by the command itself: the pair is a member of the union.
  return { command, known: isKnownCommand(command), payload } as MessageSummary;
}
