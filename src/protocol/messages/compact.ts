/**
 * BIP152 compact blocks: cmpctblock, getblocktxn, blocktxn. Indexes are
 * differentially encoded on the wire (each is the previous index + 1 + the
 * encoded value) and, as in Core, must fit 16 bits; a cmpctblock's short ids plus
 * prefilled txs must not exceed 65535 either.
 */
import { type Codec, DecodeError, type Reader, type Writer } from '../codec.js';
import { MAX_BIP152_INDEX, MAX_CMPCT_ITEMS } from '../limits.js';
import { compactSize, u64le } from '../primitives.js';
import { blockHeader, readHash, rethrow, writeHash } from './common.js';
import { txVector } from './blocks.js';
import { MIN_TX_SIZE, readTx, writeTx } from './tx.js';
import type { BlockHeader, BlockTxn, CmpctBlock, GetBlockTxn, PrefilledTx } from './types.js';

export const SHORT_ID_SIZE = 6;

/** Decode one differential index; `prev` is the previous absolute index or -1. */
function readIndex(r: Reader, prev: number): number {
  const diff = compactSize.read(r);
  const index = prev + 1 + diff;
  if (index > MAX_BIP152_INDEX) throw new DecodeError('invalid-value', '', `differential index overflow: ${index} > ${MAX_BIP152_INDEX}`);
  return index;
}

function writeIndex(w: Writer, index: number, prev: number): void {
  if (!Number.isInteger(index) || index <= prev || index > MAX_BIP152_INDEX) {
    throw new RangeError(`BIP152 indexes must be increasing integers ≤ ${MAX_BIP152_INDEX} (got ${index} after ${prev})`);
  }
  compactSize.write(w, index - prev - 1);
}

export const cmpctblock: Codec<CmpctBlock> = {
  name: 'cmpctblock',
  read(r) {
    let header: BlockHeader;
    let nonce: bigint;
    try {
      header = blockHeader.read(r);
    } catch (e) {
      throw rethrow(e, 'header');
    }
    try {
      nonce = u64le.read(r);
    } catch (e) {
      throw rethrow(e, 'nonce');
    }
    let n: number;
    try {
      n = r.count(MAX_CMPCT_ITEMS, SHORT_ID_SIZE, 'shortIds');
    } catch (e) {
      throw rethrow(e, 'shortIds');
    }
    const shortIds = new Array<Uint8Array>(n);
    const b = r.bytes;
    let at = r.offset;
    for (let i = 0; i < n; i++, at += SHORT_ID_SIZE) shortIds[i] = b.subarray(at, at + SHORT_ID_SIZE);
    r.offset = at;
    let m: number;
    try {
      m = r.count(MAX_CMPCT_ITEMS, 1 + MIN_TX_SIZE, 'prefilled');
    } catch (e) {
      throw rethrow(e, 'prefilled');
    }
    if (n + m > MAX_BIP152_INDEX) {
      throw new DecodeError('invalid-value', 'prefilled', `indexes overflowed 16 bits: ${n} short ids + ${m} prefilled txs`);
    }
    const prefilled = new Array<PrefilledTx>(m);
    let prev = -1;
    for (let i = 0; i < m; i++) {
      let index: number;
      try {
        index = readIndex(r, prev);
      } catch (e) {
        throw rethrow(e, `prefilled[${i}].index`);
      }
      try {
        prefilled[i] = { index, tx: readTx(r) };
      } catch (e) {
        throw rethrow(e, `prefilled[${i}].tx`);
      }
      prev = index;
    }
    return { header, nonce, shortIds, prefilled };
  },
  write(w, v) {
    blockHeader.write(w, v.header);
    u64le.write(w, v.nonce);
    compactSize.write(w, v.shortIds.length);
    for (const id of v.shortIds) {
      if (id.length !== SHORT_ID_SIZE) throw new RangeError(`cmpctblock short id: expected ${SHORT_ID_SIZE} bytes, got ${id.length}`);
      w.write(id);
    }
    compactSize.write(w, v.prefilled.length);
    let prev = -1;
    for (const p of v.prefilled) {
      writeIndex(w, p.index, prev);
      prev = p.index;
      writeTx(w, p.tx, true);
    }
  },
};

export const getblocktxn: Codec<GetBlockTxn> = {
  name: 'getblocktxn',
  read(r) {
    let blockHash: Uint8Array;
    try {
      blockHash = readHash(r, 'blockHash');
    } catch (e) {
      throw rethrow(e, 'blockHash');
    }
    let n: number;
    try {
      n = r.count(MAX_BIP152_INDEX + 1, 1, 'indexes');
    } catch (e) {
      throw rethrow(e, 'indexes');
    }
    const indexes = new Array<number>(n);
    let prev = -1;
    for (let i = 0; i < n; i++) {
      try {
        prev = indexes[i] = readIndex(r, prev);
      } catch (e) {
        throw rethrow(e, `indexes[${i}]`);
      }
    }
    return { blockHash, indexes };
  },
  write(w, v) {
    writeHash(w, v.blockHash, 'blockHash');
    compactSize.write(w, v.indexes.length);
    let prev = -1;
    for (const index of v.indexes) {
      writeIndex(w, index, prev);
      prev = index;
    }
  },
};

export const blocktxn: Codec<BlockTxn> = {
  name: 'blocktxn',
  read(r) {
    let blockHash: Uint8Array;
    try {
      blockHash = readHash(r, 'blockHash');
    } catch (e) {
      throw rethrow(e, 'blockHash');
    }
    try {
      return { blockHash, txs: txVector.read(r) };
    } catch (e) {
      throw rethrow(e, 'txs');
    }
  },
  write(w, v) {
    writeHash(w, v.blockHash, 'blockHash');
    txVector.write(w, v.txs);
  },
};
