/**
 * Events on the wire (bus, files): one JSON document per event, UTF-8. Event data
 * is JSON-safe by construction (64-bit values are decimal strings), so JSON is
 * lossless; decoding validates against the schema (schema.ts).
 *
 * On NATS several events of one subject travel as one message, a batch: their
 * JSON documents joined by '\n' (NDJSON). JSON.stringify never writes a raw
 * newline (it escapes them inside strings), so the split is exact.
 */
import { EventValidationError, parseEvent } from './schema.js';
import type { ObserverEvent } from './types.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeEvent(event: ObserverEvent): Uint8Array {
  return utf8.encode(JSON.stringify(event));
}

/** Decode and validate; throws EventValidationError for anything that is not a valid event. */
export function decodeEvent(bytes: Uint8Array): ObserverEvent {
  return decodeEventJson(decodeUtf8(bytes));
}

/** Validate one event's JSON text; throws EventValidationError. */
export function decodeEventJson(text: string): ObserverEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new EventValidationError(`not a JSON document: ${(e as Error).message}`);
  }
  return parseEvent(value);
}

/** Events' JSON texts (JSON.stringify output) as one batch: NDJSON, UTF-8. */
export function encodeBatch(jsons: readonly string[]): Uint8Array {
  return Buffer.from(jsons.length === 1 ? jsons[0]! : jsons.join('\n'), 'utf8');
}

/** The JSON texts of a batch of `count` events; throws EventValidationError when it is not one. */
export function splitBatch(bytes: Uint8Array, count: number): string[] {
  const lines = decodeUtf8(bytes).split('\n');
  if (lines.length !== count) throw new EventValidationError(`batch of ${count} events holds ${lines.length} lines`);
  return lines;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return fromUtf8.decode(bytes);
  } catch (e) {
    throw new EventValidationError(`not UTF-8: ${(e as Error).message}`);
  }
}
