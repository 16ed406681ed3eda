/**
 * A fast validity check compiled from a zod schema: walks the schema's
 * definition once and builds a tree of plain closures that test a value in
 * place, allocating nothing (zod's own parse copies every object and array it
 * accepts, which made validation and the garbage it leaves most of a bus
 * consumer's time).
 *
 * The check is conservative: `true` means zod accepts the value and its output
 * equals the value (a strict object without transforms returns what it was
 * given); `false` means "zod rejects it, or the value is unusual" (an object
 * with a `__proto__` key, which zod drops from records; a prototype other than
 * Object's, which zod's copy does not keep), and the caller asks zod, which throws with its message or
 * returns its output. So compiling can only make validation faster, never
 * change its outcome. test/events/compile.test.ts checks agreement with zod on
 * samples of every event type and on fast-check generated values.
 *
 * Only the schema constructs used by schema.ts are supported; anything else
 * throws at compile time (module load), never silently passes.
 */
import { z } from 'zod';
import { compileCharRuns } from './char-runs.js';

export type Check = (value: unknown) => boolean;

/** Schemas checked by a given function instead (z.custom refinements, whose body zod cannot show). */
export type Natives = ReadonlyMap<z.ZodTypeAny, Check>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.getPrototypeOf(v) === Object.prototype;
}

interface Field {
  check: Check;
  optional: boolean;
}

export function compileCheck(schema: z.ZodTypeAny, natives: Natives = new Map()): Check {
  const native = natives.get(schema);
  if (native) return native;
  const def = schema._def as { typeName: z.ZodFirstPartyTypeKind } & Record<string, unknown>;
  const K = z.ZodFirstPartyTypeKind;
  switch (def.typeName) {
    case K.ZodString:
      return stringCheck(def.checks as z.ZodStringCheck[]);
    case K.ZodNumber:
      return numberCheck(def.checks as z.ZodNumberCheck[]);
    case K.ZodBoolean:
      return (v) => typeof v === 'boolean';
    case K.ZodUnknown:
    case K.ZodAny:
      return () => true;
    case K.ZodLiteral: {
      const want = def.value;
      return (v) => v === want;
    }
    case K.ZodEnum: {
      const values = new Set(def.values as string[]);
      return (v) => typeof v === 'string' && values.has(v);
    }
    case K.ZodOptional: {
      const inner = compileCheck(def.innerType as z.ZodTypeAny, natives);
      return (v) => v === undefined || inner(v);
    }
    case K.ZodNullable: {
      const inner = compileCheck(def.innerType as z.ZodTypeAny, natives);
      return (v) => v === null || inner(v);
    }
    case K.ZodArray: {
      const item = compileCheck(def.type as z.ZodTypeAny, natives);
      const min = (def.minLength as { value: number } | null)?.value ?? 0;
      const max = (def.maxLength as { value: number } | null)?.value ?? Infinity;
      const exact = (def.exactLength as { value: number } | null)?.value;
      return (v) => {
        if (!Array.isArray(v) || v.length < min || v.length > max || (exact !== undefined && v.length !== exact)) return false;
        for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
        return true;
      };
    }
    case K.ZodRecord: {
      const keyDef = (def.keyType as z.ZodTypeAny)._def as { typeName: string; checks: unknown[] };
      if (keyDef.typeName !== K.ZodString || keyDef.checks.length) throw new Error('compileCheck: records need plain string keys');
      const value = compileCheck(def.valueType as z.ZodTypeAny, natives);
      return (v) => {
        if (!isPlainObject(v)) return false;
        for (const key in v) if (key === '__proto__' || !value(v[key])) return false;
        return true;
      };
    }
    case K.ZodObject:
      return objectCheck(schema as z.AnyZodObject, natives);
    case K.ZodUnion: {
      // zod returns the first option that accepts the value; strict objects return it unchanged.
      const options = (def.options as z.ZodTypeAny[]).map((o) => compileCheck(o, natives));
      return (v) => {
        for (const option of options) if (option(v)) return true;
        return false;
      };
    }
    case K.ZodDiscriminatedUnion: {
      // One option per discriminator value, found by a map lookup as zod does.
      const key = def.discriminator as string;
      const byValue = new Map<unknown, Check>();
      for (const [value, option] of def.optionsMap as Map<unknown, z.ZodTypeAny>) byValue.set(value, compileCheck(option, natives));
      return (v) => {
        if (!isPlainObject(v)) return false;
        const option = byValue.get(v[key]);
        return option !== undefined && option(v);
      };
    }
    default:
      throw new Error(`compileCheck: unsupported schema ${def.typeName}`);
  }
}

function objectCheck(schema: z.AnyZodObject, natives: Natives): Check {
  const def = schema._def as { unknownKeys: string; catchall: z.ZodTypeAny };
  if (def.unknownKeys !== 'strict' || !(def.catchall instanceof z.ZodNever)) throw new Error('compileCheck: objects must be .strict()');
  const fields = new Map<string, Field>();
  let required = 0;
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
    const optional = field.isOptional();
    if (!optional) required++;
    fields.set(key, { check: compileCheck(field, natives), optional });
  }
  return (v) => {
    if (!isPlainObject(v)) return false;
    let seen = 0;
    for (const key in v) {
      const f = fields.get(key);
      // An unknown key (strict), including `__proto__`.
      if (f === undefined || !f.check(v[key])) return false;
      if (!f.optional) seen++;
    }
    return seen === required;
  };
}

function stringCheck(checks: z.ZodStringCheck[]): Check {
  let min = 0;
  let max = Infinity;
  const regexes: RegExp[] = [];
  for (const c of checks) {
    if (c.kind === 'min') min = Math.max(min, c.value);
    else if (c.kind === 'max') max = Math.min(max, c.value);
    else if (c.kind === 'length') {
      min = Math.max(min, c.value);
      max = Math.min(max, c.value);
    } else if (c.kind === 'regex') {
      if (c.regex.global || c.regex.sticky) throw new Error('compileCheck: stateful regex');
      regexes.push(c.regex);
    } else throw new Error(`compileCheck: unsupported string check ${c.kind}`);
  }
  if (regexes.length === 0) return (v) => typeof v === 'string' && v.length >= min && v.length <= max;
  if (regexes.length === 1) {
    const re = regexes[0]!;
    // Runs of character classes (hex, base64, node ids) by a table per character; other patterns by the regex.
    return compileCharRuns(re, min, max) ?? ((v) => typeof v === 'string' && v.length >= min && v.length <= max && re.test(v));
  }
  return (v) => typeof v === 'string' && v.length >= min && v.length <= max && regexes.every((re) => re.test(v));
}

function numberCheck(checks: z.ZodNumberCheck[]): Check {
  let int = false;
  let finite = false;
  let min = -Infinity;
  let minInclusive = true;
  let max = Infinity;
  let maxInclusive = true;
  for (const c of checks) {
    if (c.kind === 'int') int = true;
    else if (c.kind === 'finite') finite = true;
    else if (c.kind === 'min') {
      if (c.value > min || (c.value === min && !c.inclusive)) [min, minInclusive] = [c.value, c.inclusive];
    } else if (c.kind === 'max') {
      if (c.value < max || (c.value === max && !c.inclusive)) [max, maxInclusive] = [c.value, c.inclusive];
    } else throw new Error(`compileCheck: unsupported number check ${c.kind}`);
  }
  return (v) =>
    typeof v === 'number' &&
    !Number.isNaN(v) &&
    (!int || Number.isInteger(v)) &&
    (!finite || Number.isFinite(v)) &&
    (minInclusive ? v >= min : v > min) &&
    (maxInclusive ? v <= max : v < max);
}
