/** Pieces shared by the message families: error paths, hashes, the 80-byte block header. */
import { type Codec, DecodeError, type Reader, type Writer } from '../codec.js';
import { compactSize } from '../primitives.js';
import type { BlockHeader } from './types.js';

/** Re-throw a decode error with `path` prefixed; anything else passes through untouched. */
export function rethrow(e: unknown, path: string): unknown {
  return e instanceof DecodeError ? e.within(path) : e;
}

/** CompactSize-prefixed bytes as a view, length checked against `max` before anything else. */
export function readVarBytes(r: Reader, max: number, what: string): Uint8Array {
  return r.varBytes(max, what);
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
    r.offset = at + BLOCK_HEADER_SIZE;
    // One object literal with every key: one hidden class for all headers.
    return {
      version: r.i32At(at),
      prevBlock: r.bytesAt(at + 4, 32),
      merkleRoot: r.bytesAt(at + 36, 32),
      time: r.u32At(at + 68),
      bits: r.u32At(at + 72),
      nonce: r.u32At(at + 76),
    };
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
