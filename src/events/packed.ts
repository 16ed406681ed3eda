/**
 * Events in MessagePack (the NATS bus's batch format v2, docs/bus.md): a batch
 * is one MessagePack array of events, objects written with msgpackr's record
 * extension (each object shape defined once per message, then referenced), so
 * a batch is ≈ 45 % smaller than its JSON and decodes faster. Every message is
 * self-contained: a fresh set of record definitions per batch, none kept
 * between messages on either side, so one publisher's definitions can never
 * change how another's messages read.
 *
 * Imported from `msgpackr/pack` and `msgpackr/unpack` (on Node both are
 * msgpackr's pure-JS build) rather than `msgpackr`, which would load the optional native string extractor: that
 * one returns short strings as slices of a combined string of up to 6 KB, so
 * a consumer keeping one small string (a peer address as a map key) would keep
 * kilobytes alive with it. Pure JS makes every decoded string its own.
 *
 * Values are what JSON carries (events are JSON-safe by construction:
 * 64-bit values are decimal strings); decoding does not validate, callers run
 * parseEvent on each item, which also rejects what MessagePack can carry and
 * JSON cannot (binary, Map, Date, undefined, non-finite numbers).
 */
import { addExtension, Packr } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import { EventValidationError } from './schema.js';
import type { ObserverEvent } from './types.js';

// Plain objects as records; the packer re-emits its definitions in every message (no `sequential`, no shared structures).
const packr = new Packr({ useRecords: true });

/**
 * msgpackr's extensions beyond records, refused while decoding (msgpackr keeps
 * one table for the process; nothing else here uses them). Validation would
 * refuse most of what they build, but some do harm first: structured-clone
 * references (0x69, 0x70) make a DAG whose validation walk is exponential in
 * its depth; bundled strings (0x62) decode to slices that keep the whole
 * bundle alive; typed arrays (0x74) copy up to the message's size. Date (0xff),
 * BigInt (0x42), Error (0x65), Set (0x73) and RegExp (0x78) have no place in
 * an event either. `undefined` (0) stays: validation decides, per event.
 */
const REFUSED_EXTENSIONS = [0x42, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0xff];
for (const type of REFUSED_EXTENSIONS) {
  addExtension({
    type,
    unpack() {
      throw new Error(`MessagePack extension 0x${type.toString(16)} is not part of an event`);
    },
  });
}

/** The events as one MessagePack array. */
export function packEvents(events: readonly ObserverEvent[]): Uint8Array {
  return packr.pack(events);
}

/**
 * The `count` items of a packed batch, not yet validated; throws
 * EventValidationError when the bytes are not one MessagePack array of
 * `count` items.
 */
export function unpackEvents(bytes: Uint8Array, count: number): unknown[] {
  let value: unknown;
  try {
    // A fresh decoder per message: record definitions live for one message only.
    // Maps as plain objects (with `__proto__` renamed by msgpackr), as another MessagePack library would send them.
    value = new Unpackr({ useRecords: true, mapsAsObjects: true, trusted: false, structuredClone: false }).unpack(bytes);
  } catch (e) {
    throw new EventValidationError(`not a MessagePack batch: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new EventValidationError('not a MessagePack batch: not an array');
  if (value.length !== count) throw new EventValidationError(`batch of ${count} events holds ${value.length} items`);
  return value;
}

/**
 * An estimate of an event's packed size, O(1), for closing batches: what a
 * message event's summary and raw payload take (≈ 2x its wire size, plus the
 * base64), a fixed amount for the rest. The NATS publisher splits a batch
 * when an estimate falls short of what the server takes.
 */
export function estimatePackedBytes(event: ObserverEvent): number {
  if (event.type === 'message') return 256 + 3 * event.data.size + (event.data.raw?.length ?? 0);
  if (event.type === 'violation') return 256 + (event.data.raw?.length ?? 0);
  return 256;
}
