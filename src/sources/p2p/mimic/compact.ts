/**
 * BIP152 compact blocks, as Core builds them (blockencodings.cpp
 * CBlockHeaderAndShortTxIDs): the coinbase prefilled, every other transaction
 * as a 6-byte short id, SipHash-2-4 of its wtxid keyed by
 * SHA256(header || nonce).
 */
import { createHash, randomBytes } from 'node:crypto';
import { encode } from '../../../protocol/codec.js';
import { blockHeader } from '../../../protocol/messages/common.js';
import { wtxid } from '../../../protocol/messages/ids.js';
import type { Block, CmpctBlock } from '../../../protocol/messages/types.js';

const M = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & M;

function readU64le(b: Uint8Array, o: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i]!);
  return v;
}

/** SipHash-2-4 of a 32-byte value (crypto/siphash.cpp SipHashUint256). */
export function siphash256(k0: bigint, k1: bigint, data: Uint8Array): bigint {
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const round = (): void => {
    v0 = (v0 + v1) & M;
    v1 = rotl(v1, 13n);
    v1 ^= v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M;
    v3 = rotl(v3, 16n);
    v3 ^= v2;
    v0 = (v0 + v3) & M;
    v3 = rotl(v3, 21n);
    v3 ^= v0;
    v2 = (v2 + v1) & M;
    v1 = rotl(v1, 17n);
    v1 ^= v2;
    v2 = rotl(v2, 32n);
  };
  const compress = (m: bigint): void => {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };
  for (let i = 0; i < 32; i += 8) compress(readU64le(data, i));
  compress(32n << 56n);
  v2 ^= 0xffn;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

/** The short id keys for a header and nonce (CBlockHeaderAndShortTxIDs::FillShortTxIDSelector). */
export function shortIdKeys(headerBytes: Uint8Array, nonce: bigint): [bigint, bigint] {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, nonce, true);
  const h = createHash('sha256').update(headerBytes).update(n).digest();
  return [readU64le(h, 0), readU64le(h, 8)];
}

export function shortId(k0: bigint, k1: bigint, hash: Uint8Array): Uint8Array {
  const v = siphash256(k0, k1, hash) & 0xffffffffffffn;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function buildCmpctBlock(block: Block, nonce: bigint = randomBytes(8).readBigUInt64LE(0)): CmpctBlock {
  const [k0, k1] = shortIdKeys(encode(blockHeader, block.header), nonce);
  return {
    header: block.header,
    nonce,
    shortIds: block.txs.slice(1).map((tx) => shortId(k0, k1, wtxid(tx))),
    prefilled: block.txs.length ? [{ index: 0, tx: block.txs[0]! }] : [],
  };
}
