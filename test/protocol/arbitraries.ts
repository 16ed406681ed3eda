/** fast-check arbitraries for every message in Payloads (shared by the property tests). */
import fc from 'fast-check';
import type { KnownCommand, Payloads, Tx, BlockHeader, NetAddr, Version } from '../../src/protocol/messages/types.js';

export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
export const u64 = fc.bigUint(0xffffffffffffffffn);
export const i64 = fc.bigInt(-(1n << 63n), (1n << 63n) - 1n);
export const u8 = fc.integer({ min: 0, max: 255 });
export const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
export const hash = bytesN(32);
export const varBytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const latin1 = (max: number) => fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: max }).map((cs) => String.fromCharCode(...cs));

export const header: fc.Arbitrary<BlockHeader> = fc.record({
  version: i32,
  prevBlock: hash,
  merkleRoot: hash,
  time: u32,
  bits: u32,
  nonce: u32,
});

export const netAddr: fc.Arbitrary<NetAddr> = fc.record({ services: u64, ip: bytesN(16), port: fc.integer({ min: 0, max: 65535 }) });

const txIn = fc.record({ prevTxid: hash, prevIndex: u32, scriptSig: varBytesArb(300), sequence: u32 });
const txOut = fc.record({ value: i64, scriptPubKey: varBytesArb(300) });

/**
 * Transactions that serialize unambiguously: with ≥ 1 input (an empty input vector
 * reads as the segwit marker, as in Core), or the 0-in/0-out tx; witnesses only when
 * at least one stack is non-empty (Core writes the legacy form otherwise).
 */
export const tx: fc.Arbitrary<Tx> = fc.oneof(
  fc
    .record({
      version: u32,
      inputs: fc.array(txIn, { minLength: 1, maxLength: 4 }),
      outputs: fc.array(txOut, { maxLength: 4 }),
      lockTime: u32,
      segwit: fc.boolean(),
      stacks: fc.array(fc.array(varBytesArb(80), { maxLength: 3 }), { minLength: 4, maxLength: 4 }),
    })
    .map(({ segwit, stacks, ...t }): Tx => {
      if (!segwit) return t;
      const witnesses = t.inputs.map((_, i) => stacks[i]!);
      if (witnesses.every((s) => s.length === 0)) witnesses[0] = [new Uint8Array([1])];
      return { ...t, witnesses };
    }),
  fc.record({ version: u32, inputs: fc.constant([]), outputs: fc.constant([]), lockTime: u32 }),
);

const version: fc.Arbitrary<Version> = fc
  .record({
    version: i32,
    services: u64,
    timestamp: i64,
    receiver: netAddr,
    sender: netAddr,
    nonce: u64,
    userAgent: latin1(256),
    startHeight: i32,
    relay: fc.boolean(),
    relayByte: fc.option(fc.integer({ min: 2, max: 255 }), { nil: undefined }),
    cut: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ cut, sender, nonce, userAgent, startHeight, relay, relayByte, ...base }): Version => {
    const v: Version = { ...base };
    if (cut >= 1) Object.assign(v, { sender, nonce });
    if (cut >= 2) v.userAgent = userAgent;
    if (cut >= 3) v.startHeight = startHeight;
    if (cut >= 4) v.relay = relay;
    // A non-canonical relay byte (Core reads it as true) is kept as sent.
    if (cut >= 4 && relayByte !== undefined) Object.assign(v, { relay: true, relayByte });
    return v;
  });

const empty = fc.constant({} as Record<string, never>);
const inv = fc.record({ items: fc.array(fc.record({ type: u32, hash }), { maxLength: 40 }) });
const locator = fc.record({ version: u32, locator: fc.array(hash, { maxLength: 101 }), stop: hash });
const KNOWN_NETS: Record<number, number> = { 1: 4, 2: 16, 4: 32, 5: 32, 6: 16 };
const addrV2Entry = fc
  .record({ time: u32, services: u64, networkId: u8, port: fc.integer({ min: 0, max: 65535 }), raw: varBytesArb(512) })
  .map(({ raw, ...e }) => {
    const want = KNOWN_NETS[e.networkId];
    return { ...e, addr: want === undefined ? raw : new Uint8Array(want).map((_, i) => raw[i] ?? i) };
  });
const increasing = (max: number, maxLen: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max }), { maxLength: maxLen }).map((xs) => xs.sort((a, b) => a - b));

export const PAYLOADS: { [K in KnownCommand]: fc.Arbitrary<Payloads[K]> } = {
  version,
  verack: empty,
  ping: fc.record({ nonce: u64 }),
  pong: fc.record({ nonce: u64 }),
  getaddr: empty,
  addr: fc.record({
    entries: fc.array(fc.record({ time: u32, services: u64, ip: bytesN(16), port: fc.integer({ min: 0, max: 65535 }) }), { maxLength: 30 }),
  }),
  addrv2: fc.record({ entries: fc.array(addrV2Entry, { maxLength: 12 }) }),
  sendaddrv2: empty,
  inv,
  getdata: inv,
  notfound: inv,
  getheaders: locator,
  getblocks: locator,
  headers: fc.record({ headers: fc.array(header, { maxLength: 20 }) }),
  sendheaders: empty,
  block: fc.record({ header, txs: fc.array(tx, { maxLength: 4 }) }),
  tx,
  mempool: empty,
  feefilter: fc.record({ feeRate: i64 }),
  sendcmpct: fc.oneof(
    fc.record({ announce: fc.boolean(), version: u64 }),
    fc.record({ announce: fc.constant(true), announceByte: fc.integer({ min: 2, max: 255 }), version: u64 }),
  ),
  cmpctblock: fc.record({
    header,
    nonce: u64,
    shortIds: fc.array(bytesN(6), { maxLength: 30 }),
    prefilled: increasing(0xffff, 3).chain((idx) =>
      fc.tuple(...idx.map(() => tx)).map((txs) => idx.map((index, i) => ({ index, tx: txs[i]! }))),
    ),
  }),
  getblocktxn: fc.record({ blockHash: hash, indexes: increasing(0xffff, 50) }),
  blocktxn: fc.record({ blockHash: hash, txs: fc.array(tx, { maxLength: 4 }) }),
  wtxidrelay: empty,
  filterload: fc.record({ filter: varBytesArb(600), hashFuncs: fc.integer({ min: 0, max: 50 }), tweak: u32, flags: u8 }),
  filteradd: fc.record({ data: varBytesArb(520) }),
  filterclear: empty,
  merkleblock: fc.record({ header, totalTxs: u32, hashes: fc.array(hash, { maxLength: 20 }), flags: varBytesArb(40) }),
  getcfilters: fc.record({ filterType: u8, startHeight: u32, stopHash: hash }),
  cfilter: fc.record({ filterType: u8, blockHash: hash, filter: varBytesArb(400) }),
  getcfheaders: fc.record({ filterType: u8, startHeight: u32, stopHash: hash }),
  cfheaders: fc.record({ filterType: u8, stopHash: hash, prevHeader: hash, filterHashes: fc.array(hash, { maxLength: 30 }) }),
  getcfcheckpt: fc.record({ filterType: u8, stopHash: hash }),
  cfcheckpt: fc.record({ filterType: u8, stopHash: hash, filterHeaders: fc.array(hash, { maxLength: 30 }) }),
  reject: fc
    .record({
      message: fc.constantFrom('tx', 'block', 'version', 'addr', 'headers', ''),
      code: u8,
      reason: latin1(111),
      data: hash,
    })
    .map(({ data, ...r }) => (r.message === 'tx' || r.message === 'block' ? { ...r, data } : r)),
};
