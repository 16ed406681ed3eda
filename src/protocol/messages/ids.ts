/** Identifiers and sizes computed from decoded values: block hash, txid, wtxid, vsize. */
import { encode } from '../codec.js';
import { sha256d } from '../hash.js';
import { blockHeader } from './common.js';
import { hasWitness, serializeTx } from './tx.js';
import type { BlockHeader, Tx } from './types.js';

/** sha256d of the 80-byte header, internal byte order (hashToHex for display). */
export function blockHash(header: BlockHeader): Uint8Array {
  return sha256d(encode(blockHeader, header));
}

/** sha256d of the legacy (witness-less) serialization. */
export function txid(tx: Tx): Uint8Array {
  return sha256d(serializeTx(tx, false));
}

/** sha256d of the full serialization; equals the txid for a tx without witness. */
export function wtxid(tx: Tx): Uint8Array {
  return sha256d(serializeTx(tx, true));
}

export interface TxSizes {
  /** Serialized size without witness. */
  base: number;
  /** Serialized size with witness. */
  total: number;
  /** BIP141 weight: base × 3 + total. */
  weight: number;
  /** Virtual size: weight / 4 rounded up. */
  vsize: number;
}

export function txSizes(tx: Tx): TxSizes {
  const base = serializeTx(tx, false).length;
  const total = hasWitness(tx) ? serializeTx(tx, true).length : base;
  const weight = base * 3 + total;
  return { base, total, weight, vsize: Math.ceil(weight / 4) };
}
