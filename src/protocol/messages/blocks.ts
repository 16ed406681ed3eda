/** Block family: headers, getheaders/getblocks (locators), block, merkleblock (BIP37). */
import { type Codec, DecodeError } from '../codec.js';
import { MAX_HEADERS_RESULTS, MAX_LOCATOR_SZ, MAX_MERKLEBLOCK_HASHES, MAX_PROTOCOL_MESSAGE_LENGTH, MAX_TX_ITEMS } from '../limits.js';
import { compactSize, hash256, struct, u32le, varBytes, vector } from '../primitives.js';
import { BLOCK_HEADER_SIZE, blockHeader, rethrow } from './common.js';
import { MIN_TX_SIZE, readTx, writeTx } from './tx.js';
import type { Block, BlockHeader, BlockLocator, Headers, MerkleBlock, Tx } from './types.js';

export { blockHeader };

/** headers: up to 2000 × (80-byte header, tx count). The tx count must be 0. */
export const headers: Codec<Headers> = {
  name: 'headers',
  read(r) {
    let n: number;
    try {
      n = r.count(MAX_HEADERS_RESULTS, BLOCK_HEADER_SIZE + 1, 'headers');
    } catch (e) {
      throw rethrow(e, 'headers');
    }
    const out = new Array<BlockHeader>(n);
    for (let i = 0; i < n; i++) {
      try {
        out[i] = blockHeader.read(r);
      } catch (e) {
        throw rethrow(e, `headers[${i}]`);
      }
      let txCount: number;
      try {
        txCount = r.compactSize();
      } catch (e) {
        throw rethrow(e, `headers[${i}].txCount`);
      }
      if (txCount !== 0)
        throw new DecodeError('invalid-value', `headers[${i}].txCount`, `header followed by tx count ${txCount}, expected 0`);
    }
    return { headers: out };
  },
  write(w, v) {
    if (v.headers.length > MAX_HEADERS_RESULTS) throw new RangeError(`headers: ${v.headers.length} > ${MAX_HEADERS_RESULTS}`);
    compactSize.write(w, v.headers.length);
    for (const h of v.headers) {
      blockHeader.write(w, h);
      compactSize.write(w, 0);
    }
  },
};

const locatorHashes = vector(hash256, MAX_LOCATOR_SZ, 'locator');

/** getheaders / getblocks: protocol version, up to 101 locator hashes, stop hash. */
export const getheaders: Codec<BlockLocator> = struct<BlockLocator>('getheaders', {
  version: u32le,
  locator: locatorHashes,
  stop: hash256,
});
export const getblocks: Codec<BlockLocator> = struct<BlockLocator>('getblocks', { version: u32le, locator: locatorHashes, stop: hash256 });

/** A vector of transactions (block, blocktxn), each in its segwit form when it has witnesses. */
export const txVector: Codec<Tx[]> = {
  name: 'txs',
  read(r) {
    const n = r.count(MAX_TX_ITEMS, MIN_TX_SIZE, 'txs');
    const out = new Array<Tx>(n);
    for (let i = 0; i < n; i++) {
      try {
        out[i] = readTx(r);
      } catch (e) {
        throw rethrow(e, `[${i}]`);
      }
    }
    return out;
  },
  write(w, txs) {
    compactSize.write(w, txs.length);
    for (const t of txs) writeTx(w, t, true);
  },
};

export const block: Codec<Block> = struct<Block>('block', { header: blockHeader, txs: txVector });

const merkleHashes = vector(hash256, MAX_MERKLEBLOCK_HASHES, 'hashes');

/** BIP37 merkleblock: header, total tx count, partial merkle tree hashes and flag bits. */
export const merkleblock: Codec<MerkleBlock> = struct<MerkleBlock>('merkleblock', {
  header: blockHeader,
  totalTxs: u32le,
  hashes: merkleHashes,
  flags: varBytes(MAX_PROTOCOL_MESSAGE_LENGTH, 'flags'),
});
