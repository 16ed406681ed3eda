/**
 * Anchored regexes that are runs of character classes (`^[0-9a-f]{64}$`,
 * `^[A-Za-z0-9+/]*={0,2}$`), matched by a table lookup per character instead
 * of the regex engine: the event schemas' 32-byte hex check alone was half the
 * time of checking a realistic event (V8 runs a counted class about 3.5 ns a
 * character; a table about 1.7). Used by compile.ts for string checks.
 *
 * Only what can be matched exactly by taking, run by run, as many characters
 * as the run allows is compiled: `^`, then runs of one ASCII class or literal
 * with a quantifier (`{n}`, `{m,n}`, `{m,}`, `*`, `+`, `?`, none), then `$`;
 * no flags; no two runs sharing a character (then the split of a string into
 * runs is unique, and greedy finds it). Anything else returns undefined and the
 * caller keeps the regex. test/events/char-runs.test.ts checks agreement with
 * the regex on generated strings.
 */

interface Run {
  /** 1 for each ASCII code the run accepts. */
  table: Uint8Array;
  min: number;
  max: number;
}

/**
 * A check equivalent to `typeof v === 'string' && v.length >= minLength && v.length <= maxLength && re.test(v)`, or
 * undefined when `re` is not a run of classes. One closure, the loop inside it: a call per string to a separate
 * matcher measured slower than the regex on values that use other patterns (the call site goes polymorphic).
 */
export function compileCharRuns(re: RegExp, minLength = 0, maxLength = Infinity): ((v: unknown) => boolean) | undefined {
  if (re.flags !== '') return undefined;
  const runs = parse(re.source);
  if (!runs || !disjoint(runs)) return undefined;
  const lo = Math.max(
    minLength,
    runs.reduce((s, r) => s + r.min, 0),
  );
  const hi = Math.min(
    maxLength,
    runs.reduce((s, r) => s + r.max, 0),
  );
  if (runs.length === 1) {
    const { table } = runs[0]!;
    return (v) => {
      if (typeof v !== 'string') return false;
      const n = v.length;
      if (n < lo || n > hi) return false;
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c > 127 || table[c] === 0) return false;
      }
      return true;
    };
  }
  return (v) => {
    if (typeof v !== 'string') return false;
    const n = v.length;
    if (n < lo || n > hi) return false;
    let i = 0;
    for (const { table, min, max } of runs) {
      const start = i;
      while (i < n && i - start < max) {
        const c = v.charCodeAt(i);
        if (c > 127 || table[c] === 0) break;
        i++;
      }
      if (i - start < min) return false;
    }
    return i === n;
  };
}

/** Characters that are syntax outside a class. */
const SPECIAL = new Set('^$.*+?()[]{}|\\/');

function parse(source: string): Run[] | undefined {
  if (!source.startsWith('^') || !source.endsWith('$') || source.endsWith('\\$')) return undefined;
  const body = source.slice(1, -1);
  const runs: Run[] = [];
  let i = 0;
  while (i < body.length) {
    const table = new Uint8Array(128);
    if (body[i] === '[') {
      const end = parseClass(body, i + 1, table);
      if (end === undefined) return undefined;
      i = end;
    } else if (body.startsWith('\\d', i)) {
      for (let c = 48; c <= 57; c++) table[c] = 1;
      i += 2;
    } else {
      const atom = literal(body, i);
      if (!atom) return undefined;
      table[atom.code] = 1;
      i = atom.next;
    }
    const q = quantifier(body, i);
    if (!q) return undefined;
    runs.push({ table, min: q.min, max: q.max });
    i = q.next;
  }
  return runs.length > 0 ? runs : undefined;
}

/** One literal character at `i` (plain, or an escaped punctuation mark): its ASCII code and what follows. */
function literal(s: string, i: number): { code: number; next: number } | undefined {
  let ch = s[i]!;
  let next = i + 1;
  if (ch === '\\') {
    ch = s[i + 1] ?? '';
    next = i + 2;
    // `\d`, `\w`, `\b`, ... are classes or assertions, not characters; only punctuation escapes are literal here.
    if (!/^[!-/:-@[-`{-~]$/.test(ch)) return undefined;
  } else if (SPECIAL.has(ch)) return undefined;
  const code = ch.charCodeAt(0);
  return ch.length === 1 && code <= 127 ? { code, next } : undefined;
}

/** Fills `table` from a class body starting at `i` (after `[`); the index after `]`, or undefined if unsupported. */
function parseClass(s: string, i: number, table: Uint8Array): number | undefined {
  if (s[i] === '^' || s[i] === ']') return undefined;
  while (i < s.length && s[i] !== ']') {
    let from: number;
    if (s[i] === '\\') {
      const e = s[i + 1] ?? '';
      if (e === 'd') {
        for (let c = 48; c <= 57; c++) table[c] = 1;
        i += 2;
        continue;
      }
      if (!/^[!-/:-@[-`{-~]$/.test(e)) return undefined;
      from = e.charCodeAt(0);
      i += 2;
    } else {
      if (s[i] === '[') return undefined;
      from = s.charCodeAt(i);
      i += 1;
    }
    let to = from;
    // A range `a-z` (a `-` first, last, or after a range is a literal).
    if (s[i] === '-' && i + 1 < s.length && s[i + 1] !== ']') {
      if (s[i + 1] === '\\' || s[i + 1] === '[') return undefined;
      to = s.charCodeAt(i + 1);
      i += 2;
      if (to < from) return undefined;
    }
    if (to > 127) return undefined;
    for (let c = from; c <= to; c++) table[c] = 1;
  }
  return s[i] === ']' ? i + 1 : undefined;
}

function quantifier(s: string, i: number): { min: number; max: number; next: number } | undefined {
  const ch = s[i];
  if (ch === '*') return lazyCheck(s, i + 1, 0, Infinity);
  if (ch === '+') return lazyCheck(s, i + 1, 1, Infinity);
  if (ch === '?') return lazyCheck(s, i + 1, 0, 1);
  if (ch !== '{') return { min: 1, max: 1, next: i };
  const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return max >= min ? lazyCheck(s, i + m[0].length, min, max) : undefined;
}

/** Refuses a lazy or possessive-looking suffix (`*?`, `{2}+`), which changes what a run takes. */
function lazyCheck(s: string, next: number, min: number, max: number): { min: number; max: number; next: number } | undefined {
  return s[next] === '?' || s[next] === '+' || s[next] === '*' || s[next] === '{' ? undefined : { min, max, next };
}

function disjoint(runs: readonly Run[]): boolean {
  const seen = new Uint8Array(128);
  for (const r of runs) {
    for (let c = 0; c < 128; c++) {
      if (r.table[c] === 0) continue;
      if (seen[c] === 1) return false;
      seen[c] = 1;
    }
  }
  return true;
}
