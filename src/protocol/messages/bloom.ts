/** BIP37 bloom filters: filterload, filteradd, filterclear. */
import { type Codec, DecodeError } from '../codec.js';
import { MAX_BLOOM_FILTER_SIZE, MAX_HASH_FUNCS, MAX_SCRIPT_ELEMENT_SIZE } from '../limits.js';
import { empty, struct, u32le, u8, varBytes } from '../primitives.js';
import type { Empty, FilterAdd, FilterLoad } from './types.js';

const filterLoadFields = struct<FilterLoad>('filterload', {
  filter: varBytes(MAX_BLOOM_FILTER_SIZE, 'filter'),
  hashFuncs: u32le,
  tweak: u32le,
  flags: u8,
});

/** filter (≤ 36,000 bytes), hash function count (≤ 50, else Core disconnects), tweak, flags. */
export const filterload: Codec<FilterLoad> = {
  ...filterLoadFields,
  read(r) {
    const v = filterLoadFields.read(r);
    if (v.hashFuncs > MAX_HASH_FUNCS)
      throw new DecodeError('invalid-value', 'hashFuncs', `${v.hashFuncs} hash functions > maximum ${MAX_HASH_FUNCS}`);
    return v;
  },
};

/** One element (≤ 520 bytes) to add to the loaded filter. */
export const filteradd: Codec<FilterAdd> = struct<FilterAdd>('filteradd', { data: varBytes(MAX_SCRIPT_ELEMENT_SIZE, 'data') });

export const filterclear: Codec<Empty> = { ...empty, name: 'filterclear' };
