/**
 * The canonical encoding every collective signature covers: JSON with object
 * keys sorted (by UTF-16 code units, as RFC 8785 "JCS" orders them), no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them
 * (which is what JCS specifies). Two members that hold the same value produce
 * the same bytes, whatever order their JSON arrived in.
 *
 * Only plain JSON is accepted: no undefined, functions, symbols, bigints,
 * non-finite numbers, class instances or cycles, and at most `MAX_DEPTH`
 * levels; anything else throws, so a value that would not survive a JSON
 * round trip is never signed.
 */

export const MAX_DEPTH = 32;

export class CanonicalError extends Error {}

/** A UTF-16 surrogate without its pair: not encodable as UTF-8, so two parties could hash different bytes. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

/** The canonical bytes (UTF-8). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function encode(v: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalError(`nested deeper than ${MAX_DEPTH} levels`);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      if (LONE_SURROGATE.test(v)) throw new CanonicalError('a string with a lone surrogate');
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new CanonicalError(`a non-finite number (${v})`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => encode(x, depth + 1)).join(',')}]`;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalError('an object that is not plain JSON');
      const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const parts: string[] = [];
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) throw new CanonicalError(`key ${JSON.stringify(k.slice(0, 64))} is undefined`);
        parts.push(`${encode(k, depth + 1)}:${encode(x, depth + 1)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalError(`a ${typeof v} is not JSON`);
  }
}
