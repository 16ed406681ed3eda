/**
 * The compiled event checks (src/events/compile.ts) against zod, the reference:
 * on valid events of every type (generated from the schemas themselves), on
 * mutated ones (a field replaced, removed or added, anywhere), and on arbitrary
 * JSON. Wherever the fast check says yes, zod must accept and return a value
 * equal to the input; wherever zod says no, the fast check must say no; and on
 * plain JSON-like values without `__proto__` keys the two verdicts are identical
 * (the rest the fast check leaves to zod).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { compileCheck } from '../../src/events/compile.js';
import {
  EVENT_DATA_SCHEMAS,
  EventValidationError,
  isJsonValue,
  jsonValue,
  NODE_ID_PATTERN,
  parseEvent,
  parseEventWithZod,
} from '../../src/events/schema.js';
import { EVENT_TYPES, SCHEMA_VERSION, type EventType } from '../../src/events/types.js';
import { anyEvent, eventOf, json } from '../helpers/event-arbitraries.js';

/** Paths to every object/array node of a JSON value, and the value at a path. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return [at];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [at, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...at, k]))];
}

/** One mutation of a valid event: replace, delete or add at some node. */
const mutated = fc
  .tuple(
    anyEvent,
    fc.nat(),
    fc.constantFrom('replace', 'delete', 'add'),
    json,
    fc.constantFrom('x', 'extra', 'conn', 'id', '__proto__', 'raw'),
  )
  .map(([event, pick, op, value, key]) => {
    const e = structuredClone(event) as Record<string, unknown>;
    const all = paths(e);
    const path = all[pick % all.length]!;
    if (path.length === 0) {
      if (op === 'add') e[key] = value;
      else if (op === 'delete') delete e.data;
      else return value;
      return e;
    }
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], e) as Record<
      string | number,
      unknown
    >;
    const last = path.at(-1)!;
    if (op === 'replace') parent[last] = value;
    else if (op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else {
      const target = parent[last];
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
        Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
      } else parent[last] = value;
    }
    return e;
  });

/** What the fast check leaves to zod by design: a `__proto__` key, or an object that is not a plain one. */
function unusual(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some(unusual);
  return (
    Object.getPrototypeOf(v) !== Object.prototype || Object.prototype.hasOwnProperty.call(v, '__proto__') || Object.values(v).some(unusual)
  );
}

function zodVerdict(v: unknown): { ok: true; out: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, out: parseEventWithZod(v) };
  } catch (e) {
    if (!(e instanceof EventValidationError)) throw e;
    return { ok: false, message: e.message };
  }
}

/** The fast path of parseEvent: true when it returns the input itself (no zod). */
const fastEnvelope = compileCheck(
  z
    .object({
      v: z.literal(SCHEMA_VERSION),
      type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
      nodeId: z.string().min(1).max(64).regex(NODE_ID_PATTERN),
      timeUs: z.number().int().nonnegative(),
      source: z.string().min(1).max(32),
      data: z.unknown(),
    })
    .strict(),
);

/** The z.custom JSON-value schema (alert evidence) is the one checked natively. */
const natives = new Map<z.ZodTypeAny, (v: unknown) => boolean>([[jsonValue, isJsonValue]]);
const fastData = new Map(EVENT_TYPES.map((t) => [t, compileCheck(EVENT_DATA_SCHEMAS[t], natives)]));

function agree(v: unknown): void {
  const ref = zodVerdict(v);
  let mine: { ok: true; out: unknown } | { ok: false; message: string };
  try {
    mine = { ok: true, out: parseEvent(v) };
  } catch (e) {
    if (!(e instanceof EventValidationError)) throw e;
    mine = { ok: false, message: e.message };
  }
  assert.deepEqual(mine, ref, 'parseEvent agrees with zod, message included');
  // The compiled checks themselves: yes only where zod says yes and returns the input unchanged.
  const record = v as { type?: EventType; data?: unknown };
  const fast = fastEnvelope(v) && typeof record.type === 'string' && fastData.get(record.type)!(record.data);
  if (fast) {
    assert.ok(ref.ok, 'fast yes ⇒ zod yes');
    assert.deepEqual(ref.out, v, 'zod returns the input unchanged');
  }
  if (!unusual(v)) assert.equal(fast, ref.ok, 'same verdict');
}

describe('compiled event checks agree with the zod schemas', () => {
  it('on valid events of every type', () => {
    for (const type of EVENT_TYPES) {
      fc.assert(
        fc.property(eventOf(type), (e) => {
          agree(e);
        }),
        { numRuns: 150, seed: 1 },
      );
    }
  });

  it('accepts generated valid events (the generator is not vacuous)', () => {
    let ok = 0;
    fc.assert(
      fc.property(anyEvent, (e) => {
        if (zodVerdict(e).ok) ok++;
      }),
      { numRuns: 500, seed: 2 },
    );
    assert.ok(ok > 450, `${ok} of 500 generated events valid`);
  });

  it('on mutated events (a field replaced, removed or added anywhere)', () => {
    fc.assert(
      fc.property(mutated, (e) => {
        agree(e);
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  it('on arbitrary JSON and non-JSON values', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => agree(v)),
      { numRuns: 500, seed: 4 },
    );
    const samples: unknown[] = [
      null,
      [],
      { v: 1 },
      { v: 1, type: 'message', nodeId: 'n', timeUs: 0, source: 's' },
      {
        v: 1,
        type: 'ping.latency',
        nodeId: 'n',
        timeUs: 0,
        source: 's',
        data: { conn: { id: 1, direction: 'inbound', remote: 'r' }, nonce: '1', latencyMs: NaN },
      },
      {
        v: 1,
        type: 'ping.latency',
        nodeId: 'n',
        timeUs: 0,
        source: 's',
        data: { conn: { id: 1, direction: 'inbound', remote: 'r' }, nonce: '1', latencyMs: Infinity },
      },
      {
        v: 1,
        type: 'ping.latency',
        nodeId: 'n',
        timeUs: -0,
        source: 's',
        data: { conn: { id: 1, direction: 'inbound', remote: 'r' }, nonce: '01', latencyMs: 1 },
      },
      JSON.parse('{"v":1,"type":"pipeline.counters","nodeId":"n","timeUs":0,"source":"s","data":{"stage":"x","counters":{"__proto__":1}}}'),
      JSON.parse(
        '{"v":1,"type":"pipeline.counters","nodeId":"n","timeUs":0,"source":"s","data":{"stage":"x","counters":{"a":1},"__proto__":{}}}',
      ),
      Object.assign(Object.create({ inherited: 1 }) as object, { v: 1 }),
      new Map(),
      new Date(0),
    ];
    for (const v of samples) agree(v);
  });
});
