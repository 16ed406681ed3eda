/** inv, getdata, notfound: vectors of (type u32, hash). */
import type { Codec } from '../codec.js';
import { MAX_INV_SZ } from '../limits.js';
import { vector } from '../primitives.js';
import { rethrow } from './common.js';
import type { Inv, InvItem } from './types.js';

export const invItem: Codec<InvItem> = {
  name: 'invItem',
  fixedSize: 36,
  read(r) {
    r.need(36, 'invItem');
    const at = r.offset;
    r.offset = at + 36;
    return { type: r.view.getUint32(at, true), hash: r.bytes.subarray(at + 4, at + 36) };
  },
  write(w, item) {
    if (item.hash.length !== 32) throw new RangeError(`invItem.hash: expected 32 bytes, got ${item.hash.length}`);
    const at = w.reserve(36);
    w.dataView.setUint32(at, item.type, true);
    w.bytesAt(at + 4, 32).set(item.hash);
  },
};

const items = vector(invItem, MAX_INV_SZ, 'items');

function invCodec(name: string): Codec<Inv> {
  return {
    name,
    read(r) {
      try {
        return { items: items.read(r) };
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
