/**
 * Transactions, legacy and BIP144 segwit serialization. Decoding follows Core's
 * UnserializeTransaction: an empty input vector followed by a non-zero flag byte
 * marks the extended form; flag bit 0 means witnesses follow, one stack per input,
 * and at least one must be non-empty ("superfluous witness record"); other flag
 * bits are unknown optional data and rejected.
 */
import { type Codec, DecodeError, type Reader, Writer } from '../codec.js';
import { MAX_SCRIPT_SIZE, MAX_TX_ITEMS, MAX_WITNESS_ITEMS } from '../limits.js';
import { compactSize } from '../primitives.js';
import { rethrow, writeVarBytes } from './common.js';
import type { Tx, TxIn, TxOut } from './types.js';

/** prevout (36) + empty script (1) + sequence (4). */
const MIN_INPUT_SIZE = 41;
/** value (8) + empty script (1). */
const MIN_OUTPUT_SIZE = 9;
/** version + empty vin + empty vout + locktime. */
export const MIN_TX_SIZE = 10;

// Limits copied to module constants: read once, not through the import binding per item.
const MAX_ITEMS = MAX_TX_ITEMS;
const MAX_SCRIPT = MAX_SCRIPT_SIZE;
const MAX_STACK = MAX_WITNESS_ITEMS;

/**
 * The readers below build each input/output with one object literal and read
 * fixed-size fields at known offsets after one bounds check; `field` tracks
 * where we are so that a failure still reports `[i].field`.
 */
function readInputs(r: Reader): TxIn[] {
  const n = r.count(MAX_ITEMS, MIN_INPUT_SIZE, 'inputs');
  const out = new Array<TxIn>(n);
  let i = 0;
  let field = 'prevTxid';
  try {
    for (; i < n; i++) {
      field = 'prevTxid';
      r.need(36, 'prevout');
      const at = r.offset;
      r.offset = at + 36;
      field = 'scriptSig';
      const scriptSig = r.varBytes(MAX_SCRIPT, 'scriptSig');
      field = 'sequence';
      r.need(4, 'sequence');
      const seqAt = r.offset;
      r.offset = seqAt + 4;
      out[i] = { prevTxid: r.bytesAt(at, 32), prevIndex: r.u32At(at + 32), scriptSig, sequence: r.u32At(seqAt) };
    }
  } catch (e) {
    throw rethrow(e, `[${i}].${field}`);
  }
  return out;
}

function readOutputs(r: Reader): TxOut[] {
  const n = r.count(MAX_ITEMS, MIN_OUTPUT_SIZE, 'outputs');
  const out = new Array<TxOut>(n);
  let i = 0;
  let field = 'value';
  try {
    for (; i < n; i++) {
      field = 'value';
      r.need(8, 'value');
      const at = r.offset;
      r.offset = at + 8;
      field = 'scriptPubKey';
      out[i] = { value: r.i64At(at), scriptPubKey: r.varBytes(MAX_SCRIPT, 'scriptPubKey') };
    }
  } catch (e) {
    throw rethrow(e, `[${i}].${field}`);
  }
  return out;
}

function readWitness(r: Reader): Uint8Array[] {
  const n = r.count(MAX_STACK, 1, 'witness');
  const stack = new Array<Uint8Array>(n);
  let i = 0;
  try {
    for (; i < n; i++) stack[i] = r.varBytes(MAX_SCRIPT, 'witness item');
  } catch (e) {
    throw rethrow(e, `[${i}]`);
  }
  return stack;
}

/** Like `Reader.need`, with the field as the error path. */
function need(r: Reader, n: number, field: string): void {
  if (n > r.remaining) throw new DecodeError('truncated', field, `${field} needs ${n} bytes, ${r.remaining} left`);
}

export function readTx(r: Reader): Tx {
  need(r, 4, 'version');
  const version = r.u32At(r.offset);
  r.offset += 4;
  let path = 'inputs';
  try {
    let inputs = readInputs(r);
    let outputs: TxOut[] = [];
    let flags = 0;
    if (inputs.length === 0) {
      // Either an empty input vector or the segwit marker: the next byte decides.
      path = '';
      need(r, 1, 'flag');
      flags = r.bytes[r.offset++]!;
      if (flags !== 0) {
        path = 'inputs';
        inputs = readInputs(r);
        path = 'outputs';
        outputs = readOutputs(r);
      }
    } else {
      path = 'outputs';
      outputs = readOutputs(r);
    }
    let witnesses: Uint8Array[][] | undefined;
    if (flags & 1) {
      flags ^= 1;
      witnesses = new Array<Uint8Array[]>(inputs.length);
      let any = false;
      for (let i = 0; i < inputs.length; i++) {
        path = `witnesses[${i}]`;
        const stack = readWitness(r);
        if (stack.length > 0) any = true;
        witnesses[i] = stack;
      }
      path = '';
      if (!any)
        throw new DecodeError('invalid-value', 'witnesses', 'superfluous witness record: segwit flag set but every witness is empty');
    }
    path = '';
    if (flags !== 0) throw new DecodeError('invalid-value', 'flag', `unknown transaction optional data (flag ${flags})`);
    need(r, 4, 'lockTime');
    const lockTime = r.u32At(r.offset);
    r.offset += 4;
    const tx: Tx = { version, inputs, outputs, lockTime };
    if (witnesses) tx.witnesses = witnesses;
    return tx;
  } catch (e) {
    // Errors raised here already carry their full path (path ''); those from a section get its name.
    throw path ? rethrow(e, path) : e;
  }
}

/** True when the tx is written in the segwit form: witnesses given and at least one stack non-empty. */
export function hasWitness(tx: Tx): boolean {
  return tx.witnesses !== undefined && tx.witnesses.some((s) => s.length > 0);
}

/**
 * Write a tx. With `witness` (default) and a non-empty witness, the BIP144 form;
 * otherwise the legacy form (as Core does for a tx without witness data).
 */
export function writeTx(w: Writer, tx: Tx, witness = true): void {
  const segwit = witness && hasWitness(tx);
  if (segwit && tx.witnesses!.length !== tx.inputs.length) {
    throw new RangeError(`tx: ${tx.witnesses!.length} witness stacks for ${tx.inputs.length} inputs`);
  }
  let at = w.reserve(4);
  w.dataView.setUint32(at, tx.version >>> 0, true);
  if (segwit) {
    at = w.reserve(2);
    w.dataView.setUint16(at, 0x0001, false); // marker 0x00, flag 0x01
  }
  compactSize.write(w, tx.inputs.length);
  for (const input of tx.inputs) {
    if (input.prevTxid.length !== 32) throw new RangeError('tx input prevTxid: expected 32 bytes');
    at = w.reserve(36);
    w.bytesAt(at, 32).set(input.prevTxid);
    w.dataView.setUint32(at + 32, input.prevIndex, true);
    writeVarBytes(w, input.scriptSig);
    at = w.reserve(4);
    w.dataView.setUint32(at, input.sequence, true);
  }
  compactSize.write(w, tx.outputs.length);
  for (const output of tx.outputs) {
    at = w.reserve(8);
    w.dataView.setBigInt64(at, output.value, true);
    writeVarBytes(w, output.scriptPubKey);
  }
  if (segwit) {
    for (const stack of tx.witnesses!) {
      compactSize.write(w, stack.length);
      for (const item of stack) writeVarBytes(w, item);
    }
  }
  at = w.reserve(4);
  w.dataView.setUint32(at, tx.lockTime, true);
}

export const tx: Codec<Tx> = {
  name: 'tx',
  minSize: MIN_TX_SIZE,
  read: readTx,
  write(w, value) {
    writeTx(w, value, true);
  },
};

/** A tx serialized on its own, with or without its witness. */
export function serializeTx(value: Tx, witness = true): Uint8Array {
  const w = new Writer(256);
  writeTx(w, value, witness);
  return w.finish();
}
