/**
 * ElligatorSwift encoding of secp256k1 x coordinates and BIP324's x-only ECDH.
 *
 * The formulas (XSwiftEC, XSwiftECInv, XElligatorSwift) are BIP324's, written
 * with @noble/curves' field operations (mod p); no curve arithmetic is written
 * here. The one scalar multiplication per side (our key pair, and x(priv·P) for
 * the shared secret) is OpenSSL's through node:crypto's ECDH: it measured 1.3 ms
 * against noble's 2.2 ms per multiplication on this machine (docs/benchmarks.md),
 * and it is constant-time in both. OpenSSL's ECDH output is exactly the x
 * coordinate BIP324 wants.
 */
import { createECDH, createHash, randomBytes, randomInt } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';

const Fp = secp256k1.Point.Fp;
const P = Fp.ORDER;
/** √-3 mod p, the square one of the two (BIP324's constant c). */
const C = 0xa2d2ba93507f1df233770c2a797962cc61f6d15da14ecd47d8d27ae1cd5f852n;
const SQRT_EXP = (P + 1n) / 4n;
const HALF = Fp.inv(2n);

/** Square root mod p, or undefined when `a` is not a square (p ≡ 3 mod 4). */
function sqrt(a: bigint): bigint | undefined {
  const r = Fp.pow(a, SQRT_EXP);
  return Fp.sqr(r) === a ? r : undefined;
}

/** Whether x is the x coordinate of a curve point (x³ + 7 is a square): BIP340's lift_x succeeds. */
function isValidX(x: bigint): boolean {
  return sqrt(Fp.add(Fp.mul(Fp.sqr(x), x), 7n)) !== undefined;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function bigIntTo32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** BIP324 XSwiftEC(u, t): the curve x coordinate that (u, t) encodes. Defined for every input. */
export function xswiftec(u: bigint, t: bigint): bigint {
  u = Fp.create(u);
  t = Fp.create(t);
  if (u === 0n) u = 1n;
  if (t === 0n) t = 1n;
  const u3plus7 = Fp.add(Fp.mul(Fp.sqr(u), u), 7n);
  if (Fp.add(u3plus7, Fp.sqr(t)) === 0n) t = Fp.add(t, t);
  const X = Fp.div(Fp.sub(u3plus7, Fp.sqr(t)), Fp.add(t, t));
  const Y = Fp.div(Fp.add(X, t), Fp.mul(C, u));
  const x1 = Fp.add(u, Fp.mul(4n, Fp.sqr(Y)));
  if (isValidX(x1)) return x1;
  const XoverY = Fp.div(X, Y);
  const x2 = Fp.mul(Fp.sub(Fp.neg(XoverY), u), HALF);
  if (isValidX(x2)) return x2;
  // BIP324: one of the three is always on the curve.
  return Fp.mul(Fp.sub(XoverY, u), HALF);
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
export function ellswiftDecode(encoding: Uint8Array): bigint {
  if (encoding.length !== 64) throw new RangeError(`ellswift encoding is ${encoding.length} bytes, expected 64`);
  return xswiftec(bytesToBigInt(encoding.subarray(0, 32)) % P, bytesToBigInt(encoding.subarray(32, 64)) % P);
}

export interface EllSwiftKey {
  /** 32-byte secret key. */
  priv: Uint8Array;
  /** Its public key's x coordinate, ElligatorSwift-encoded (64 bytes). */
  ellswift: Uint8Array;
}

/** BIP324 ellswift_create: a fresh key pair with a random encoding of its public key. */
export function ellswiftCreate(): EllSwiftKey {
  const ecdh = createECDH('secp256k1');
  ecdh.generateKeys();
  const pub = ecdh.getPublicKey(); // 04 || x || y
  const x = bytesToBigInt(pub.subarray(1, 33));
  return { priv: new Uint8Array(ecdh.getPrivateKey()), ellswift: xElligatorSwift(x) };
}

/** x(priv · lift_x(XSwiftEC(u, t))) as 32 bytes: BIP324's ellswift_ecdh_xonly. */
export function ellswiftEcdhXonly(ellswiftTheirs: Uint8Array, priv: Uint8Array): Uint8Array {
  const x = ellswiftDecode(ellswiftTheirs);
  // Either point with this x gives the same x of the product: take the even one.
  const compressed = new Uint8Array(33);
  compressed[0] = 0x02;
  compressed.set(bigIntTo32(x), 1);
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(priv);
  return new Uint8Array(ecdh.computeSecret(compressed));
}

const ECDH_TAG = createHash('sha256').update('bip324_ellswift_xonly_ecdh').digest();

/**
 * BIP324 v2_ecdh: the shared secret, a tagged hash of both encodings (the
 * initiator's first) and the shared x coordinate.
 */
export function v2Ecdh(priv: Uint8Array, ellswiftTheirs: Uint8Array, ellswiftOurs: Uint8Array, initiating: boolean): Uint8Array {
  const shared = ellswiftEcdhXonly(ellswiftTheirs, priv);
  const h = createHash('sha256').update(ECDH_TAG).update(ECDH_TAG);
  if (initiating) h.update(ellswiftOurs).update(ellswiftTheirs);
  else h.update(ellswiftTheirs).update(ellswiftOurs);
  return new Uint8Array(h.update(shared).digest());
}
