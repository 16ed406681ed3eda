/**
 * ElligatorSwift encoding of secp256k1 x coordinates and BIP324's x-only ECDH.
 *
 * The formulas (XSwiftEC, XSwiftECInv, XElligatorSwift) are BIP324's, written
 * with @noble/curves' field operations (mod p); no curve arithmetic is written
 * here. The one scalar multiplication per side (our key pair, and x(priv·P) for
 * the shared secret) is OpenSSL's through node:crypto: it measured 1.3 ms
 * against noble's 2.2 ms per multiplication on this machine (docs/benchmarks.md),
 * and it is constant-time in both. Keys are KeyObjects and the ECDH is
 * crypto.diffieHellman (EVP_PKEY_derive), whose output is exactly the x
 * coordinate BIP324 wants: ~0.3 ms less per ECDH than the ECDH class's
 * computeSecret, and a KeyObject can be handed between threads (the p2p
 * source's key pool makes keys on another thread, sources/p2p/v2-keys.ts).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  ECDH,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  randomInt,
} from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';

const Fp = secp256k1.Point.Fp;
const P = Fp.ORDER;
/** √-3 mod p, the square one of the two (BIP324's constant c). */
const C = 0xa2d2ba93507f1df233770c2a797962cc61f6d15da14ecd47d8d27ae1cd5f852n;
const HALF = Fp.inv(2n);

function sqrN(a: bigint, n: number): bigint {
  for (let i = 0; i < n; i++) a = (a * a) % P;
  return a;
}

/**
 * a^((p+1)/4) mod p by an addition chain: (p+1)/4 is 223 one bits, a zero, 22
 * ones, four zeros, 1011 and two zeros, so x_k = a^(2^k - 1) blocks built from
 * each other cover it with 253 squarings and 13 multiplications, where a generic
 * square-and-multiply (noble's Fp.pow) does ~500 operations (the same chain as
 * libsecp256k1's field square root; ~2x faster here, docs/benchmarks.md).
 */
export function powSqrt(a: bigint): bigint {
  const x2 = (sqrN(a, 1) * a) % P;
  const x3 = (sqrN(x2, 1) * a) % P;
  const x6 = (sqrN(x3, 3) * x3) % P;
  const x9 = (sqrN(x6, 3) * x3) % P;
  const x11 = (sqrN(x9, 2) * x2) % P;
  const x22 = (sqrN(x11, 11) * x11) % P;
  const x44 = (sqrN(x22, 22) * x22) % P;
  const x88 = (sqrN(x44, 44) * x44) % P;
  const x176 = (sqrN(x88, 88) * x88) % P;
  const x220 = (sqrN(x176, 44) * x44) % P;
  const x223 = (sqrN(x220, 3) * x3) % P;
  let t = (sqrN(x223, 23) * x22) % P;
  t = (sqrN(t, 6) * x2) % P;
  return sqrN(t, 2);
}

/**
 * Square root mod p, or undefined when `a` is not a square (p ≡ 3 mod 4): one
 * exponentiation both takes the root and, squared back, tests square-ness.
 */
function sqrt(a: bigint): bigint | undefined {
  a = Fp.create(a);
  const r = powSqrt(a);
  return Fp.sqr(r) === a ? r : undefined;
}

/** 02 || x: the compressed point with even y, for OpenSSL. */
function compressed(x: bigint): Buffer {
  return Buffer.from('02' + x.toString(16).padStart(64, '0'), 'hex');
}

/** DER SubjectPublicKeyInfo of a compressed secp256k1 point, up to the point (RFC 5480: id-ecPublicKey, secp256k1). */
const SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
/** DER ECPrivateKey (RFC 5915) of a secp256k1 key without its public key, around the 32 secret bytes. */
const SEC1_PREFIX = Buffer.from('302e0201010420', 'hex');
const SEC1_SUFFIX = Buffer.from('a00706052b8104000a', 'hex');

/**
 * Whether x is the x coordinate of a curve point (x³ + 7 is a square): BIP340's
 * lift_x succeeds. OpenSSL answers it: decompressing 02 || x computes the square
 * root of x³ + 7 in C and refuses a non-square, ~2x faster than one bigint
 * exponentiation (docs/benchmarks.md). Both are variable-time; so is the
 * reference code's is-square test, and x here is public (an encoding's
 * candidate, or a value derived from our own public key and a random u).
 */
function isValidX(x: bigint): boolean {
  try {
    ECDH.convertKey(compressed(x), 'secp256k1');
    return true;
  } catch {
    return false;
  }
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt('0x' + (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') || '0'));
}

export function bigIntTo32(n: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
}

/**
 * BIP324 XSwiftEC's three candidates x1, x2, x3, in its order: XSwiftEC(u, t) is
 * the first that is on the curve (one always is).
 */
function xswiftecCandidates(u: bigint, t: bigint): [bigint, bigint, bigint] {
  u = Fp.create(u);
  t = Fp.create(t);
  if (u === 0n) u = 1n;
  if (t === 0n) t = 1n;
  const u3plus7 = Fp.add(Fp.mul(Fp.sqr(u), u), 7n);
  if (Fp.add(u3plus7, Fp.sqr(t)) === 0n) t = Fp.add(t, t);
  // BIP324: X = (u³+7−t²)/(2t), Y = (X+t)/(c·u), x1 = u+4Y², x2,3 = (∓X/Y−u)/2. With
  // n = u³+7−t² and d = 2t: Y = (n+t·d)/(d·c·u) and X/Y = n·c·u/(n+t·d), so the two
  // inverses come from one inversion of their product (a field inversion costs as
  // much as ~40 multiplications here).
  const n = Fp.sub(u3plus7, Fp.sqr(t));
  const d = Fp.add(t, t);
  const a = Fp.mul(Fp.mul(d, C), u);
  const b = Fp.add(n, Fp.mul(t, d));
  const inverse = Fp.inv(Fp.mul(a, b));
  const Y = Fp.mul(b, Fp.mul(inverse, b));
  const XoverY = Fp.mul(Fp.mul(Fp.mul(n, C), u), Fp.mul(inverse, a));
  const x1 = Fp.add(u, Fp.mul(4n, Fp.sqr(Y)));
  return [x1, Fp.mul(Fp.sub(Fp.neg(XoverY), u), HALF), Fp.mul(Fp.sub(XoverY, u), HALF)];
}

/** BIP324 XSwiftEC(u, t): the curve x coordinate that (u, t) encodes. Defined for every input. */
export function xswiftec(u: bigint, t: bigint): bigint {
  const [x1, x2, x3] = xswiftecCandidates(u, t);
  if (isValidX(x1)) return x1;
  if (isValidX(x2)) return x2;
  return x3;
}

/** BIP324 XSwiftECInv(x, u, case): a t with XSwiftEC(u, t) = x, or undefined. `c` is 0..7. */
export function xswiftecInv(x: bigint, u: bigint, c: number): bigint | undefined {
  x = Fp.create(x);
  u = Fp.create(u);
  let v: bigint;
  let s: bigint;
  const u2 = Fp.sqr(u);
  const u3plus7 = Fp.add(Fp.mul(u2, u), 7n);
  if ((c & 2) === 0) {
    if (isValidX(Fp.sub(Fp.neg(x), u))) return undefined;
    v = x;
    const denominator = Fp.add(Fp.add(u2, Fp.mul(u, v)), Fp.sqr(v));
    if (denominator === 0n) return undefined;
    s = Fp.neg(Fp.div(u3plus7, denominator));
  } else {
    s = Fp.sub(x, u);
    if (s === 0n) return undefined;
    const r = sqrt(Fp.neg(Fp.mul(s, Fp.add(Fp.mul(4n, u3plus7), Fp.mul(Fp.mul(3n, u2), s)))));
    if (r === undefined) return undefined;
    if ((c & 1) === 1 && r === 0n) return undefined;
    v = Fp.mul(Fp.sub(Fp.div(r, s), u), HALF);
  }
  const w = sqrt(s);
  if (w === undefined) return undefined;
  const oneMinusC = Fp.mul(Fp.mul(u, Fp.sub(1n, C)), HALF);
  const onePlusC = Fp.mul(Fp.mul(u, Fp.add(1n, C)), HALF);
  switch (c & 5) {
    case 0:
      return Fp.neg(Fp.mul(w, Fp.add(oneMinusC, v)));
    case 1:
      return Fp.mul(w, Fp.add(onePlusC, v));
    case 4:
      return Fp.mul(w, Fp.add(oneMinusC, v));
    default:
      return Fp.neg(Fp.mul(w, Fp.add(onePlusC, v)));
  }
}

/** A random non-zero field element (uniform: rejection sampling of 32 random bytes). */
function randomFieldElement(): bigint {
  for (;;) {
    const n = bytesToBigInt(randomBytes(32));
    if (n !== 0n && n < P) return n;
  }
}

/** BIP324 XElligatorSwift(x): a uniformly random 64-byte encoding u || t of x. */
export function xElligatorSwift(x: bigint): Uint8Array {
  for (;;) {
    const u = randomFieldElement();
    const t = xswiftecInv(x, u, randomInt(8));
    if (t === undefined) continue;
    const out = new Uint8Array(64);
    out.set(bigIntTo32(u), 0);
    out.set(bigIntTo32(t), 32);
    return out;
  }
}

/** The x coordinate a 64-byte ElligatorSwift encoding stands for (every 64 bytes decode). */
function decodeCandidates(encoding: Uint8Array): [bigint, bigint, bigint] {
  if (encoding.length !== 64) throw new RangeError(`ellswift encoding is ${encoding.length} bytes, expected 64`);
  return xswiftecCandidates(bytesToBigInt(encoding.subarray(0, 32)) % P, bytesToBigInt(encoding.subarray(32, 64)) % P);
}

export function ellswiftDecode(encoding: Uint8Array): bigint {
  const [x1, x2, x3] = decodeCandidates(encoding);
  if (isValidX(x1)) return x1;
  if (isValidX(x2)) return x2;
  return x3;
}

export interface EllSwiftKey {
  /** The secret key, as OpenSSL holds it: the ECDH uses it as it is, and it can be passed to another thread. */
  privateKey: KeyObject;
  /** Its public key's x coordinate, ElligatorSwift-encoded (64 bytes). */
  ellswift: Uint8Array;
}

/** BIP324 ellswift_create: a fresh key pair with a random encoding of its public key. */
export function ellswiftCreate(): EllSwiftKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  // The SubjectPublicKeyInfo ends in the uncompressed point 04 || x || y. (Not the JWK export:
  // on Node 20 it sometimes never returns for a secp256k1 key, seen in a loop of a few thousand.)
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  if (spki.length !== 88 || spki[23] !== 4) throw new Error('unexpected secp256k1 SubjectPublicKeyInfo from OpenSSL');
  const x = bytesToBigInt(spki.subarray(24, 56));
  return { privateKey, ellswift: xElligatorSwift(x) };
}

/** A 32-byte secret key as a KeyObject (OpenSSL derives its public key: ~0.4 ms; tests and vectors use it). */
export function privateKeyFromBytes(priv: Uint8Array): KeyObject {
  if (priv.length !== 32) throw new RangeError(`secret key is ${priv.length} bytes, expected 32`);
  return createPrivateKey({ key: Buffer.concat([SEC1_PREFIX, priv, SEC1_SUFFIX]), format: 'der', type: 'sec1' });
}

/**
 * x(priv · lift_x(XSwiftEC(u, t))) as 32 bytes: BIP324's ellswift_ecdh_xonly.
 * `priv` is the secret key as bytes or as a KeyObject (EllSwiftKey.privateKey).
 */
export function ellswiftEcdhXonly(ellswiftTheirs: Uint8Array, priv: Uint8Array | KeyObject): Uint8Array {
  const privateKey = priv instanceof KeyObject ? priv : privateKeyFromBytes(priv);
  // Either point with the decoded x gives the same x of the product: take the even one
  // (02 || x). ellswiftDecode returns an x on the curve, so OpenSSL's decompression succeeds.
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, compressed(ellswiftDecode(ellswiftTheirs))]),
    format: 'der',
    type: 'spki',
  });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

const ECDH_TAG = createHash('sha256').update('bip324_ellswift_xonly_ecdh').digest();

/**
 * BIP324 v2_ecdh: the shared secret, a tagged hash of both encodings (the
 * initiator's first) and the shared x coordinate.
 */
export function v2Ecdh(
  priv: Uint8Array | KeyObject,
  ellswiftTheirs: Uint8Array,
  ellswiftOurs: Uint8Array,
  initiating: boolean,
): Uint8Array {
  const shared = ellswiftEcdhXonly(ellswiftTheirs, priv);
  const h = createHash('sha256').update(ECDH_TAG).update(ECDH_TAG);
  if (initiating) h.update(ellswiftOurs).update(ellswiftTheirs);
  else h.update(ellswiftTheirs).update(ellswiftOurs);
  return new Uint8Array(h.update(shared).digest());
}
