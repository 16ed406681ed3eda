/** inv, getdata, notfound: vectors of (type u32, hash). */
import type { Codec, Reader } from '../codec.js';
import { MAX_INV_SZ } from '../limits.js';
import { vector } from '../primitives.js';
import { rethrow } from './common.js';
import type { Inv, InvItem } from './types.js';

const INV_ITEM_SIZE = 36;

export const invItem: Codec<InvItem> = {
  name: 'invItem',
  fixedSize: INV_ITEM_SIZE,
  read(r) {
    r.need(INV_ITEM_SIZE, 'invItem');
    const at = r.offset;
    r.offset = at + INV_ITEM_SIZE;
    return { type: r.u32At(at), hash: r.bytesAt(at + 4, 32) };
  },
  write(w, item) {
    if (item.hash.length !== 32) throw new RangeError(`invItem.hash: expected 32 bytes, got ${item.hash.length}`);
    const at = w.reserve(INV_ITEM_SIZE);
    w.dataView.setUint32(at, item.type, true);
    w.bytesAt(at + 4, 32).set(item.hash);
  },
};

const items = vector(invItem, MAX_INV_SZ, 'items');

/**
 * Fast path for the most frequent message: the count is checked against
 * MAX_INV_SZ and against the bytes left (36 each) first, so every item is known
 * to be in bounds and the loop reads them without further checks (the errors and
 * paths are those of `vector(invItem)`).
 */
function readItems(r: Reader): InvItem[] {
  const n = r.count(MAX_INV_SZ, INV_ITEM_SIZE, 'items');
  const out = new Array<InvItem>(n);
  let at = r.offset;
  for (let i = 0; i < n; i++, at += INV_ITEM_SIZE) out[i] = { type: r.u32At(at), hash: r.bytesAt(at + 4, 32) };
  r.offset = at;
  return out;
}

function invCodec(name: string): Codec<Inv> {
  return {
    name,
    read(r) {
      try {
        return { items: readItems(r) };
      } catch (e) {
        throw rethrow(e, 'items');
      }
    },
    write(w, v) {
      items.write(w, v.items);
    },
  };
}

export const inv = invCodec('inv');
export const getdata = invCodec('getdata');
export const notfound = invCodec('notfound');

/** Names for inventory types, for summaries. */
export function invTypeName(type: number): string {
  switch (type) {
    case 0:
      return 'error';
    case 1:
      return 'tx';
    case 2:
      return 'block';
    case 3:
      return 'filtered_block';
    case 4:
      return 'cmpct_block';
    case 5:
      return 'wtx';
    case 0x40000001:
      return 'witness_tx';
    case 0x40000002:
      return 'witness_block';
    case 0x40000003:
      return 'filtered_witness_block';
    default:
      return `type${type >>> 0}`;
  }
}
