/**
 * Events on the wire (bus, files): one JSON document per event, UTF-8. Event data
 * is JSON-safe by construction (64-bit values are decimal strings), so JSON is
 * lossless; decoding validates against the schema (schema.ts).
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
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8.decode(bytes));
  } catch (e) {
    throw new EventValidationError(`not a JSON document: ${(e as Error).message}`);
  }
  return parseEvent(value);
}
