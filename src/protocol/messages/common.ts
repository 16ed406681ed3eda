/** Pieces shared by the message families: error paths, hashes, the 80-byte block header. */
import { type Codec, DecodeError, type Reader, type Writer } from '../codec.js';
import { compactSize } from '../primitives.js';
import type { BlockHeader } from './types.js';

/** Re-throw a decode error with `path` prefixed; anything else passes through untouched. */
export function rethrow(e: unknown, path: string): unknown {
  return e instanceof DecodeError ? e.within(path) : e;
}

/** Read a CompactSize count, check it against a named maximum and against the bytes left (`minItem` each). */
export function readBoundedCount(r: Reader, max: number, minItem: number, what: string): number {
  const n = compactSize.read(r);
  if (n > max) throw new DecodeError('too-many-items', '', `${what}: ${n} > maximum ${max}`);
  if (n * minItem > r.remaining) throw new DecodeError('truncated', '', `${what}: ${n} items cannot fit in ${r.remaining} bytes`);
  return n;
}

/** CompactSize-prefixed bytes as a view, length checked against `max` before anything else. */
export function readVarBytes(r: Reader, max: number, what: string): Uint8Array {
  const n = compactSize.read(r);
  if (n > max) throw new DecodeError('too-large', '', `${what}: ${n} bytes > maximum ${max}`);
  return r.take(n, what);
}

export function writeVarBytes(w: Writer, value: Uint8Array): void {
  compactSize.write(w, value.length);
  w.write(value);
}

export function readHash(r: Reader, what = 'hash'): Uint8Array {
  return r.take(32, what);
}

export function writeHash(w: Writer, hash: Uint8Array, what = 'hash'): void {
  if (hash.length !== 32) throw new RangeError(`${what}: expected 32 bytes, got ${hash.length}`);
  w.write(hash);
}

export const BLOCK_HEADER_SIZE = 80;

/** The 80-byte block header. */
export const blockHeader: Codec<BlockHeader> = {
  name: 'header',
  fixedSize: BLOCK_HEADER_SIZE,
  read(r) {
    r.need(BLOCK_HEADER_SIZE, 'header');
    const at = r.offset;
    const v = r.view;
    const b = r.bytes;
    const h: BlockHeader = {
      version: v.getInt32(at, true),
      prevBlock: b.subarray(at + 4, at + 36),
      merkleRoot: b.subarray(at + 36, at + 68),
      time: v.getUint32(at + 68, true),
      bits: v.getUint32(at + 72, true),
      nonce: v.getUint32(at + 76, true),
    };
    r.offset = at + BLOCK_HEADER_SIZE;
    return h;
  },
  write(w, h) {
    const at = w.reserve(BLOCK_HEADER_SIZE);
    const v = w.dataView;
    v.setInt32(at, h.version, true);
    if (h.prevBlock.length !== 32 || h.merkleRoot.length !== 32) throw new RangeError('header: hashes must be 32 bytes');
    w.bytesAt(at + 4, 32).set(h.prevBlock);
    w.bytesAt(at + 36, 32).set(h.merkleRoot);
    v.setUint32(at + 68, h.time, true);
    v.setUint32(at + 72, h.bits, true);
    v.setUint32(at + 76, h.nonce, true);
  },
};
