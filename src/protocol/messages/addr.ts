/** addr (legacy, 30-byte entries) and addrv2 (BIP155). */
import { type Codec, DecodeError, type Reader } from '../codec.js';
import { MAX_ADDR_TO_SEND, MAX_ADDRV2_SIZE } from '../limits.js';
import { compactSize, compactSizeBig, vector } from '../primitives.js';
import { rethrow } from './common.js';
import { ADDRV2_NETWORK, type Addr, type AddrEntry, type AddrV2, type AddrV2Entry } from './types.js';

const ADDR_ENTRY_SIZE = 30;

/** One entry at `at`, already known to be in bounds: one object literal with every key. */
function readAddrEntryAt(r: Reader, at: number): AddrEntry {
  return { time: r.u32At(at), services: r.u64At(at + 4), ip: r.bytesAt(at + 12, 16), port: r.u16beAt(at + 28) };
}

/** time (u32), services (u64), address (16), port (u16 big-endian). */
export const addrEntry: Codec<AddrEntry> = {
  name: 'addrEntry',
  fixedSize: 30,
  read(r) {
    r.need(ADDR_ENTRY_SIZE, 'addrEntry');
    const at = r.offset;
    r.offset = at + ADDR_ENTRY_SIZE;
    return readAddrEntryAt(r, at);
  },
  write(w, e) {
    if (e.ip.length !== 16) throw new RangeError(`addrEntry.ip: expected 16 bytes, got ${e.ip.length}`);
    const at = w.reserve(30);
    w.dataView.setUint32(at, e.time, true);
    w.dataView.setBigUint64(at + 4, e.services, true);
    w.bytesAt(at + 12, 16).set(e.ip);
    w.dataView.setUint16(at + 28, e.port, false);
  },
};

const addrEntries = vector(addrEntry, MAX_ADDR_TO_SEND, 'entries');

/** As `vector(addrEntry)`, but with the count checked against the bytes left first, the entries need no further checks. */
function readAddrEntries(r: Reader): AddrEntry[] {
  const n = r.count(MAX_ADDR_TO_SEND, ADDR_ENTRY_SIZE, 'entries');
  const out = new Array<AddrEntry>(n);
  let at = r.offset;
  for (let i = 0; i < n; i++, at += ADDR_ENTRY_SIZE) out[i] = readAddrEntryAt(r, at);
  r.offset = at;
  return out;
}

export const addr: Codec<Addr> = {
  name: 'addr',
  read(r) {
    try {
      return { entries: readAddrEntries(r) };
    } catch (e) {
      throw rethrow(e, 'entries');
    }
  },
  write(w, v) {
    addrEntries.write(w, v.entries);
  },
};

/** Address length each known BIP155 network requires. TorV2 (3) is retired: Core treats it as unknown. */
export const ADDRV2_SIZES: Readonly<Record<number, number>> = Object.freeze({
  [ADDRV2_NETWORK.ipv4]: 4,
  [ADDRV2_NETWORK.ipv6]: 16,
  [ADDRV2_NETWORK.torv3]: 32,
  [ADDRV2_NETWORK.i2p]: 32,
  [ADDRV2_NETWORK.cjdns]: 16,
});

function need(r: Reader, n: number, field: string): void {
  if (n > r.remaining) throw new DecodeError('truncated', field, `${field} needs ${n} bytes, ${r.remaining} left`);
}

/** ADDRV2_SIZES as a plain array by network id (-1: unknown network, any length up to the maximum). */
const ADDRV2_SIZE_BY_ID: readonly number[] = Array.from({ length: 256 }, (_, id) => ADDRV2_SIZES[id] ?? -1);
const MAX_ADDRV2_BYTES = MAX_ADDRV2_SIZE;

/** time (u32), services (CompactSize), network id (u8), address (CompactSize-prefixed, ≤ 512), port (u16 BE). */
export const addrV2Entry: Codec<AddrV2Entry> = {
  name: 'addrV2Entry',
  minSize: 9,
  read(r) {
    need(r, 4, 'time');
    const time = r.u32At(r.offset);
    r.offset += 4;
    let services: bigint;
    try {
      services = compactSizeBig.read(r);
    } catch (e) {
      throw rethrow(e, 'services');
    }
    need(r, 1, 'networkId');
    const networkId = r.bytes[r.offset++]!;
    let addrBytes: Uint8Array;
    try {
      const n = r.compactSize();
      if (n > MAX_ADDRV2_BYTES) throw new DecodeError('too-large', '', `address of ${n} bytes > maximum ${MAX_ADDRV2_BYTES}`);
      const want = ADDRV2_SIZE_BY_ID[networkId]!;
      if (want >= 0 && n !== want) {
        throw new DecodeError('invalid-value', '', `network ${networkId} address with length ${n} (should be ${want})`);
      }
      addrBytes = r.take(n, 'addr');
    } catch (e) {
      throw rethrow(e, 'addr');
    }
    need(r, 2, 'port');
    const port = r.u16beAt(r.offset);
    r.offset += 2;
    return { time, services, networkId, addr: addrBytes, port };
  },
  write(w, e) {
    const at = w.reserve(4);
    w.dataView.setUint32(at, e.time, true);
    compactSizeBig.write(w, e.services);
    if (!Number.isInteger(e.networkId) || e.networkId < 0 || e.networkId > 255) throw new RangeError(`addrv2 networkId ${e.networkId}`);
    const want = ADDRV2_SIZES[e.networkId];
    if (want !== undefined && e.addr.length !== want) throw new RangeError(`addrv2 network ${e.networkId} needs ${want} bytes`);
    if (e.addr.length > MAX_ADDRV2_SIZE) throw new RangeError(`addrv2 address > ${MAX_ADDRV2_SIZE} bytes`);
    const at2 = w.reserve(1);
    w.dataView.setUint8(at2, e.networkId);
    compactSize.write(w, e.addr.length);
    w.write(e.addr);
    const at3 = w.reserve(2);
    w.dataView.setUint16(at3, e.port, false);
  },
};

const addrV2Entries = vector(addrV2Entry, MAX_ADDR_TO_SEND, 'entries');

/** As `vector(addrV2Entry)` without the generic vector's indirect call and try/catch per item. */
function readAddrV2Entries(r: Reader): AddrV2Entry[] {
  const n = r.count(MAX_ADDR_TO_SEND, addrV2Entry.minSize!, 'entries');
  const out = new Array<AddrV2Entry>(n);
  let i = 0;
  try {
    for (; i < n; i++) out[i] = addrV2Entry.read(r);
  } catch (e) {
    throw rethrow(e, `[${i}]`);
  }
  return out;
}

export const addrv2: Codec<AddrV2> = {
  name: 'addrv2',
  read(r) {
    try {
      return { entries: readAddrV2Entries(r) };
    } catch (e) {
      throw rethrow(e, 'entries');
    }
  },
  write(w, v) {
    addrV2Entries.write(w, v.entries);
  },
};
