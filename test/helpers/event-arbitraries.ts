/**
 * fast-check arbitraries for valid events of every type, generated from the
 * zod schemas themselves (so they follow every schema change): used by the
 * compiled-check and the wire-format tests.
 */
import fc from 'fast-check';
import { z } from 'zod';
import { EVENT_DATA_SCHEMAS } from '../../src/events/schema.js';
import { EVENT_TYPES, SCHEMA_VERSION, type EventType } from '../../src/events/types.js';

const K = z.ZodFirstPartyTypeKind;
export const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

/** Values zod accepts for `schema` (mostly; edge cases are left to the comparison, which takes any outcome). */
export function valid(schema: z.ZodTypeAny): fc.Arbitrary<unknown> {
  const def = schema._def as Record<string, unknown> & { typeName: string };
  switch (def.typeName) {
    case K.ZodString: {
      const checks = def.checks as z.ZodStringCheck[];
      const re = checks.find((c) => c.kind === 'regex');
      const max = Math.min(64, ...checks.filter((c) => c.kind === 'max').map((c) => c.value));
      const min = Math.max(0, ...checks.filter((c) => c.kind === 'min').map((c) => c.value));
      return re ? fc.stringMatching(re.regex).filter((s) => s.length <= max) : fc.string({ minLength: min, maxLength: max });
    }
    case K.ZodNumber: {
      const checks = def.checks as z.ZodNumberCheck[];
      const int = checks.some((c) => c.kind === 'int');
      const min = checks.find((c) => c.kind === 'min')?.value;
      const max = checks.find((c) => c.kind === 'max')?.value;
      return int
        ? fc.integer({ min: min ?? -(2 ** 40), max: max ?? 2 ** 40 })
        : fc.double({ min: min ?? -1e9, max: max ?? 1e9, noNaN: true, noDefaultInfinity: true });
    }
    case K.ZodBoolean:
      return fc.boolean();
    case K.ZodLiteral:
      return fc.constant(def.value);
    case K.ZodEnum:
      return fc.constantFrom(...(def.values as string[]));
    case K.ZodOptional:
      return fc.option(valid(def.innerType as z.ZodTypeAny), { nil: undefined });
    case K.ZodNullable:
      return fc.option(valid(def.innerType as z.ZodTypeAny), { nil: null });
    case K.ZodArray:
      return fc.array(valid(def.type as z.ZodTypeAny), { maxLength: Math.min(4, (def.maxLength as { value: number } | null)?.value ?? 4) });
    case K.ZodRecord:
      return fc.dictionary(fc.string({ maxLength: 8 }), valid(def.valueType as z.ZodTypeAny), { maxKeys: 4 });
    case K.ZodObject: {
      const shape = (schema as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;
      return fc
        .record(Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, valid(s)])))
        .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    case K.ZodUnion:
      return fc.oneof(...(def.options as z.ZodTypeAny[]).map(valid));
    case K.ZodDiscriminatedUnion:
      return fc.oneof(...[...(def.optionsMap as Map<unknown, z.ZodTypeAny>).values()].map(valid));
    case K.ZodEffects:
      return json;
    default:
      throw new Error(`no arbitrary for ${def.typeName}`);
  }
}

export function eventOf(type: EventType): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({
    v: fc.constant(SCHEMA_VERSION),
    type: fc.constant(type),
    nodeId: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    timeUs: fc.integer({ min: 0, max: 2 ** 52 }),
    source: fc.constantFrom('p2p', 'rpc', 'bus'),
    data: valid(EVENT_DATA_SCHEMAS[type]),
  });
}

export const anyEvent = fc.constantFrom(...EVENT_TYPES).chain(eventOf);
