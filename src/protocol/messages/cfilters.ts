/** BIP157 compact block filters: getcfilters/cfilter, getcfheaders/cfheaders, getcfcheckpt/cfcheckpt. */
import type { Codec } from '../codec.js';
import { MAX_CFCHECKPT_HEADERS, MAX_GETCFHEADERS_SIZE, MAX_PROTOCOL_MESSAGE_LENGTH } from '../limits.js';
import { hash256, struct, u32le, u8, varBytes, vector } from '../primitives.js';
import type { CFCheckpt, CFHeaders, CFilter, GetCFCheckpt, GetCFHeaders, GetCFilters } from './types.js';

export const getcfilters: Codec<GetCFilters> = struct<GetCFilters>('getcfilters', {
  filterType: u8,
  startHeight: u32le,
  stopHash: hash256,
});

export const cfilter: Codec<CFilter> = struct<CFilter>('cfilter', {
  filterType: u8,
  blockHash: hash256,
  filter: varBytes(MAX_PROTOCOL_MESSAGE_LENGTH, 'filter'),
});

export const getcfheaders: Codec<GetCFHeaders> = struct<GetCFHeaders>('getcfheaders', {
  filterType: u8,
  startHeight: u32le,
  stopHash: hash256,
});

export const cfheaders: Codec<CFHeaders> = struct<CFHeaders>('cfheaders', {
  filterType: u8,
  stopHash: hash256,
  prevHeader: hash256,
  filterHashes: vector(hash256, MAX_GETCFHEADERS_SIZE, 'filterHashes'),
});

export const getcfcheckpt: Codec<GetCFCheckpt> = struct<GetCFCheckpt>('getcfcheckpt', { filterType: u8, stopHash: hash256 });

export const cfcheckpt: Codec<CFCheckpt> = struct<CFCheckpt>('cfcheckpt', {
  filterType: u8,
  stopHash: hash256,
  filterHeaders: vector(hash256, MAX_CFCHECKPT_HEADERS, 'filterHeaders'),
});
