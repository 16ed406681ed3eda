/**
 * Runs of character classes matched by tables (src/events/char-runs.ts): the
 * same verdict as the regex on generated strings, for every pattern the event
 * schemas use and for made-up ones; patterns it cannot match exactly are left
 * to the regex (undefined), and the hot schema patterns are compiled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileCharRuns } from '../../src/events/char-runs.js';
import { NODE_ID_PATTERN } from '../../src/events/schema.js';

/** Compiled by tables. */
const COMPILED: RegExp[] = [
  /^[0-9a-f]{64}$/,
  /^[A-Za-z0-9+/]*={0,2}$/,
  NODE_ID_PATTERN,
  /^[a-c]{2,4}[x-z]?$/,
  /^\d+\.[a-f]*$/,
  /^[-a]{0,3}b+[\]\\]{1,}$/,
  /^x$/,
  /^[._-]{3}$/,
  /^[0-9]*$/,
];

/** Left to the regex: alternation, groups, wildcards, flags, negated classes, runs sharing characters, non-ASCII, escapes that are classes. */
const LEFT: RegExp[] = [
  /^(0|[1-9][0-9]{0,19})$/,
  /^(?:[0-9a-f]{2})*$/,
  /^-?(0|[1-9][0-9]{0,18})$/,
  /^[a-f]*[0-9a-f]{2}$/,
  /^a*a$/,
  /^[0-9a-f]{64}$/i,
  /^[^a]+$/,
  /^.{3}$/,
  /^[a-z]{2}/,
  /[a-z]{2}$/,
  /^\w+$/,
  /^[é]+$/,
  /^a{,3}$/,
  /^a*?$/,
  /^a|b$/,
  new RegExp('^\\1$'),
  /^[a-z]\$/,
];

/** Strings mostly of the characters the pattern cares about, with some others (non-ASCII and surrogates included). */
const strings = fc.oneof(
  fc.stringOf(fc.constantFrom(...'0123456789abcdefxyzABCDEF+/=._-]\\é\u0000\n'), { maxLength: 80 }),
  fc.hexaString({ minLength: 60, maxLength: 68 }),
  fc.fullUnicodeString({ maxLength: 8 }),
  fc.base64String({ maxLength: 40 }),
);

describe('character-class runs', () => {
  it('agree with the regex on generated strings, for every pattern they compile', () => {
    for (const re of COMPILED) {
      const check = compileCharRuns(re);
      assert.ok(check, `${re} compiles`);
      fc.assert(
        fc.property(strings, (v) => check(v) === re.test(v)),
        { numRuns: 3000 },
      );
      // The strings the pattern accepts are the interesting ones: some made to match.
      fc.assert(
        fc.property(fc.stringMatching(re, { size: 'small' }), (v) => check(v) === true),
        { numRuns: 500 },
      );
    }
  });

  it('leave to the regex what they cannot match exactly', () => {
    for (const re of LEFT) assert.equal(compileCharRuns(re), undefined, `${re} is left to the regex`);
  });

  it('the schema patterns on chosen edges', () => {
    const hash = compileCharRuns(/^[0-9a-f]{64}$/)!;
    assert.equal(hash('a'.repeat(64)), true);
    assert.equal(hash('a'.repeat(63)), false);
    assert.equal(hash('a'.repeat(65)), false);
    assert.equal(hash('A'.repeat(64)), false);
    assert.equal(hash('a'.repeat(63) + 'g'), false);
    assert.equal(hash('a'.repeat(63) + '\u0661'), false);
    for (const v of [undefined, null, 64, ['a'.repeat(64)], { length: 64 }])
      assert.equal(hash(v), false, `${JSON.stringify(v)} is not a string`);
    // Length bounds from the schema (z.string().min().max()) on top of the pattern's own.
    const bounded = compileCharRuns(/^[a-z]*$/, 2, 3)!;
    assert.deepEqual(['', 'a', 'ab', 'abc', 'abcd'].map(bounded), [false, false, true, true, false]);
    const base64 = compileCharRuns(/^[A-Za-z0-9+/]*={0,2}$/)!;
    for (const [v, want] of [
      ['', true],
      ['QQ==', true],
      ['QQ===', false],
      ['Q=Q', false],
      ['==', true],
      ['a/b+', true],
      ['a b', false],
    ] as const)
      assert.equal(base64(v), want, JSON.stringify(v));
  });
});
