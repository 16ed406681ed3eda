/** The canonical encoding the collective's signatures cover. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, CanonicalError, MAX_DEPTH } from '../../src/collective/canonical.js';

/** The same value with every object's keys in a shuffled order. */
function shuffleKeys(v: unknown, seed: number): unknown {
  if (Array.isArray(v)) return v.map((x, i) => shuffleKeys(x, seed + i));
  if (v && typeof v === 'object') {
    const entries = Object.entries(v);
    entries.sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7) || (seed % 2 ? 1 : -1));
    return Object.fromEntries(entries.map(([k, x]) => [k, shuffleKeys(x, seed + 1)]));
  }
  return v;
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units, no whitespace, JSON.stringify strings and numbers', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, 'x'], A: { z: 1.5, é: -0, '\u{1F600}': 'e\n"' } }),
      '{"A":{"z":1.5,"é":0,"😀":"e\\n\\""},"a":[true,null,"x"],"b":1}',
    );
    // RFC 8785's ordering example: code units, not code points (U+1F600 sorts before U+FB33 as a surrogate pair).
    assert.equal(canonicalJson({ '\uFB33': 1, '\u{1F600}': 2, '\u20AC': 3, '\r': 4, '1': 5 }), '{"\\r":4,"1":5,"€":3,"😀":2,"דּ":1}');
    assert.equal(canonicalJson([1e21, 1e-7, 0.1 + 0.2, -5]), '[1e+21,1e-7,0.30000000000000004,-5]');
  });

  it('is the same for any key order, and parses back to the value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.nat(), (raw, seed) => {
        const v = JSON.parse(JSON.stringify(raw)) as unknown;
        const text = canonicalJson(v);
        assert.equal(canonicalJson(shuffleKeys(v, seed)), text);
        assert.deepEqual(JSON.parse(text), v);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what is not plain JSON', () => {
    const cases: unknown[] = [
      NaN,
      Infinity,
      undefined,
      { a: undefined },
      () => 1,
      10n,
      Symbol('s'),
      new Date(0),
      new Map(),
      'lone \uD800 surrogate',
      'lone \uDC00 low',
    ];
    for (const v of cases) assert.throws(() => canonicalJson(v), CanonicalError, String(typeof v));
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_DEPTH + 1; i++) deep = [deep];
    assert.throws(() => canonicalJson(deep), /deeper than 32/);
    assert.equal(canonicalJson('pair \uD83D\uDE00 ok'), '"pair 😀 ok"');
  });
});
