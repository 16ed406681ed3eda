import * as crypto from 'node:crypto';

/** Node ≥ 20.12 has the one-shot `crypto.hash`: no Hash object per call. */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

function sha256(data: Uint8Array): Uint8Array {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/** SHA-256 as a 32-char latin1 ('binary') string: returning a short string from native code is much cheaper than a Buffer. */
function sha256Latin1(data: Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'binary') : crypto.createHash('sha256').update(data).digest('binary');
}

/** SHA256(SHA256(x)): the frame checksum, txids and block hashes. */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

// ---- frame checksum fast path ---------------------------------------------
//
// Every frame needs only the first 4 bytes of sha256d(payload). Two native
// calls returning Buffers cost well over a microsecond per frame whatever its
// size (most frames are small: ping, pong, inv, ...). So the checksum takes the
// first SHA-256 from node:crypto as a latin1 string (much cheaper to return
// than a Buffer), and computes the second one, always a single block (32 bytes
// + padding), with a plain SHA-256 compression function (FIPS 180-4) in JS. No
// allocation besides that string; the result is a u32 to compare with the
// header. `sha256d` above stays fully native for ids and encoding.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
/** Message schedule and chaining state, reused by every call (single-threaded). */
const W = new Int32Array(64);
const H = new Int32Array(8);

/** One SHA-256 compression of the block in W[0..15] into H. All arithmetic is int32 (| 0, >>>). */
function compress(): void {
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15]!;
    const w2 = W[t - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (s1 + W[t - 7]! + s0 + W[t - 16]!) | 0;
  }
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  let f = H[5]!;
  let g = H[6]!;
  let h = H[7]!;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

/** SHA-256 of the 32-byte digest held as words in W[0..7]: one padded block. Returns the first 4 bytes, big-endian. */
function secondRound(): number {
  W[8] = 0x80000000 | 0;
  for (let t = 9; t < 15; t++) W[t] = 0;
  W[15] = 256;
  H.set(IV);
  compress();
  return H[0]! >>> 0;
}

/** The v1 frame checksum: the first 4 bytes of sha256d(payload) as a big-endian u32. */
export function sha256dChecksum(payload: Uint8Array): number {
  const d = sha256Latin1(payload);
  for (let t = 0, i = 0; t < 8; t++, i += 4) {
    W[t] = (d.charCodeAt(i) << 24) | (d.charCodeAt(i + 1) << 16) | (d.charCodeAt(i + 2) << 8) | d.charCodeAt(i + 3);
  }
  return secondRound();
}

/** Hashes are stored in internal byte order; humans read them reversed. */
export function hashToHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

export function hexToHash(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex').reverse());
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
