/**
 * The handshake's fast paths against slower, independent forms of the same
 * arithmetic: the square-root addition chain against noble's generic Fp.pow,
 * and the ECDH (OpenSSL's, on a KeyObject, after a
 * decoding whose on-curve tests are OpenSSL's) against ellswiftDecode + noble's
 * scalar multiplication, on every BIP324 decoding vector (they include
 * encodings that decode to the second and third candidate).
 */
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  bigIntTo32,
  bytesToBigInt,
  ellswiftCreate,
  ellswiftDecode,
  ellswiftEcdhXonly,
  powSqrt,
  privateKeyFromBytes,
  v2Ecdh,
} from '../../../src/protocol/v2/ellswift.js';

const Fp = secp256k1.Point.Fp;
const P = Fp.ORDER;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function decodeVectors(): string[] {
  const [head, ...rows] = readFileSync(new URL('../../fixtures/bip324/ellswift_decode_test_vectors.csv', import.meta.url), 'utf8')
    .trim()
    .split(/\r?\n/);
  const col = head!.split(',').indexOf('ellswift');
  return rows.map((r) => r.split(',')[col]!);
}

describe('ellswift fast paths', () => {
  it('powSqrt equals a^((p+1)/4) by noble Fp.pow, on edge and random inputs', () => {
    const inputs = [0n, 1n, 2n, 7n, P - 1n, P - 2n, ...Array.from({ length: 200 }, () => bytesToBigInt(randomBytes(32)) % P)];
    for (const a of inputs) assert.equal(powSqrt(a), Fp.pow(a, (P + 1n) / 4n), `a = ${a}`);
  });

  it('bytesToBigInt and bigIntTo32 round-trip, leading zeros included', () => {
    for (const s of ['00'.repeat(32), '00'.repeat(31) + '01', 'ff'.repeat(32), '0001' + 'ab'.repeat(30)]) {
      assert.equal(toHex(bigIntTo32(bytesToBigInt(hex(s)))), s);
    }
    assert.equal(bytesToBigInt(new Uint8Array(0)), 0n);
  });

  it('ellswiftEcdhXonly equals x(priv · lift_x(ellswiftDecode)) on every decoding vector, with the key as bytes or as a KeyObject', () => {
    const vectors = decodeVectors();
    assert.ok(vectors.length >= 70);
    const priv = new Uint8Array(randomBytes(32));
    const keyObject = privateKeyFromBytes(priv);
    const scalar = bytesToBigInt(priv);
    for (const v of vectors) {
      const x = ellswiftDecode(hex(v));
      const expected = toHex(bigIntTo32(secp256k1.Point.fromHex('02' + toHex(bigIntTo32(x))).multiply(scalar).x));
      assert.equal(toHex(ellswiftEcdhXonly(hex(v), priv)), expected, v);
      assert.equal(toHex(ellswiftEcdhXonly(hex(v), keyObject)), expected, v);
    }
  });

  it('both sides of a handshake agree, and an ellswift_create encoding decodes to its own public key', () => {
    const a = ellswiftCreate();
    const b = ellswiftCreate();
    const fromA = v2Ecdh(a.privateKey, b.ellswift, a.ellswift, true);
    assert.deepEqual(v2Ecdh(b.privateKey, a.ellswift, b.ellswift, false), fromA);
    const publicX = (k: typeof a) => bytesToBigInt(createPublicKey(k.privateKey).export({ format: 'der', type: 'spki' }).subarray(24, 56));
    assert.equal(ellswiftDecode(a.ellswift), publicX(a));
    assert.equal(ellswiftDecode(b.ellswift), publicX(b));
  });

  it('privateKeyFromBytes refuses a key that is not 32 bytes', () => {
    assert.throws(() => privateKeyFromBytes(new Uint8Array(31)), /31 bytes, expected 32/);
  });
});
