/**
 * JSON-safe summaries of decoded messages for message events (their shapes are
 * declared in message-summary.ts, with their schema): 64-bit values as
 * decimal strings, bytes as hex, hashes in display order, addresses as text.
 * addr/addrv2 carry every entry (at most 1000); bulk messages carry counts and
 * the first few items so an event stays bounded whatever the peer sends.
 */
import { addrV2ToString, ipToString } from '../protocol/address.js';
import { hashToHex, toHex } from '../protocol/hash.js';
import { blockHash, txid, txSizes, wtxid } from '../protocol/messages/ids.js';
import { isKnown } from '../protocol/messages/index.js';
import { invTypeName } from '../protocol/messages/inventory.js';
import { hasWitness } from '../protocol/messages/tx.js';
import {
  ADDRV2_NETWORK,
  type InvItem,
  type KnownCommand,
  type Message,
  type NetAddr,
  type Payloads,
  type Tx,
} from '../protocol/messages/types.js';
import { serviceNames } from '../protocol/services.js';
import {
  SUMMARY_ITEMS,
  SUMMARY_UNKNOWN_BYTES,
  type DecodeFailure,
  type InvSummary,
  type MessageSummaries,
  type MessageSummary,
  type TxSummary,
  type UnknownSummary,
} from './message-summary.js';

const NETWORK_NAMES = new Map<number, string>(Object.entries(ADDRV2_NETWORK).map(([k, v]) => [v, k]));

function netAddr(a: NetAddr): MessageSummaries['version']['receiver'] {
  return { addr: ipToString(a.ip), port: a.port, services: a.services.toString() };
}

function invSummary(items: InvItem[]): InvSummary {
  const types: Record<string, number> = {};
  for (const it of items) {
    const name = invTypeName(it.type);
    types[name] = (types[name] ?? 0) + 1;
  }
  return {
    count: items.length,
    types,
    items: items.slice(0, SUMMARY_ITEMS).map((it) => ({ type: invTypeName(it.type), hash: hashToHex(it.hash) })),
  };
}

export function summarizeTx(t: Tx): TxSummary {
  const sizes = txSizes(t);
  return {
    txid: hashToHex(txid(t)),
    wtxid: hashToHex(wtxid(t)),
    segwit: hasWitness(t),
    version: t.version,
    inputs: t.inputs.length,
    outputs: t.outputs.length,
    lockTime: t.lockTime,
    size: sizes.total,
    vsize: sizes.vsize,
    weight: sizes.weight,
  };
}

function firstHashes(hashes: Uint8Array[]): string[] {
  return hashes.slice(0, SUMMARY_ITEMS).map(hashToHex);
}

const empty = (): Record<string, never> => ({});
const pingSummary = (p: Payloads['ping']): MessageSummaries['ping'] => ({ nonce: p.nonce.toString() });
const locatorSummary = (p: Payloads['getheaders']): MessageSummaries['getheaders'] => ({
  version: p.version,
  locatorCount: p.locator.length,
  locator: firstHashes(p.locator),
  stop: hashToHex(p.stop),
});
const filterRange = (p: Payloads['getcfilters']): MessageSummaries['getcfilters'] => ({
  filterType: p.filterType,
  startHeight: p.startHeight,
  stopHash: hashToHex(p.stopHash),
});

/** One summariser per command, each typed against its declared summary (message-summary.ts). */
const SUMMARISERS: { [K in KnownCommand]: (p: Payloads[K]) => MessageSummaries[K] } = {
  version: (v) => ({
    version: v.version,
    services: v.services.toString(),
    serviceNames: serviceNames(v.services),
    timestamp: v.timestamp.toString(),
    receiver: netAddr(v.receiver),
    sender: v.sender ? netAddr(v.sender) : null,
    nonce: v.nonce?.toString() ?? null,
    userAgent: v.userAgent ?? null,
    startHeight: v.startHeight ?? null,
    relay: v.relay ?? null,
    ...(v.relayByte !== undefined ? { relayByte: v.relayByte } : {}),
  }),
  verack: empty,
  getaddr: empty,
  sendaddrv2: empty,
  sendheaders: empty,
  mempool: empty,
  wtxidrelay: empty,
  filterclear: empty,
  ping: pingSummary,
  pong: pingSummary,
  addr: (p) => ({
    count: p.entries.length,
    entries: p.entries.map((e) => ({ time: e.time, services: e.services.toString(), addr: ipToString(e.ip), port: e.port })),
  }),
  addrv2: (p) => ({
    count: p.entries.length,
    entries: p.entries.map((e) => ({
      time: e.time,
      services: e.services.toString(),
      network: NETWORK_NAMES.get(e.networkId) ?? `net${e.networkId}`,
      addr: addrV2ToString(e.networkId, e.addr),
      port: e.port,
    })),
  }),
  inv: (p) => invSummary(p.items),
  getdata: (p) => invSummary(p.items),
  notfound: (p) => invSummary(p.items),
  getheaders: locatorSummary,
  getblocks: locatorSummary,
  headers: ({ headers: hs }) => ({
    count: hs.length,
    first: hs.length > 0 ? hashToHex(blockHash(hs[0]!)) : null,
    last: hs.length > 0 ? hashToHex(blockHash(hs[hs.length - 1]!)) : null,
  }),
  block: (b) => ({
    hash: hashToHex(blockHash(b.header)),
    prevBlock: hashToHex(b.header.prevBlock),
    merkleRoot: hashToHex(b.header.merkleRoot),
    time: b.header.time,
    txCount: b.txs.length,
  }),
  tx: summarizeTx,
  feefilter: (p) => ({ feeRate: p.feeRate.toString() }),
  sendcmpct: (p) => ({
    announce: p.announce,
    version: p.version.toString(),
    ...(p.announceByte !== undefined ? { announceByte: p.announceByte } : {}),
  }),
  cmpctblock: (c) => ({
    hash: hashToHex(blockHash(c.header)),
    prevBlock: hashToHex(c.header.prevBlock),
    nonce: c.nonce.toString(),
    shortIds: c.shortIds.length,
    prefilled: c.prefilled.length,
    prefilledIndexes: c.prefilled.slice(0, SUMMARY_ITEMS).map((p) => p.index),
  }),
  getblocktxn: (p) => ({ blockHash: hashToHex(p.blockHash), count: p.indexes.length, indexes: p.indexes.slice(0, SUMMARY_ITEMS) }),
  blocktxn: (p) => ({
    blockHash: hashToHex(p.blockHash),
    txCount: p.txs.length,
    txids: p.txs.slice(0, SUMMARY_ITEMS).map((t) => hashToHex(txid(t))),
  }),
  filterload: (p) => ({ size: p.filter.length, hashFuncs: p.hashFuncs, tweak: p.tweak, flags: p.flags }),
  filteradd: (p) => ({ size: p.data.length, data: toHex(p.data) }),
  merkleblock: (p) => ({
    hash: hashToHex(blockHash(p.header)),
    totalTxs: p.totalTxs,
    hashCount: p.hashes.length,
    flagBytes: p.flags.length,
  }),
  getcfilters: filterRange,
  getcfheaders: filterRange,
  cfilter: (p) => ({ filterType: p.filterType, blockHash: hashToHex(p.blockHash), size: p.filter.length }),
  cfheaders: (p) => ({
    filterType: p.filterType,
    stopHash: hashToHex(p.stopHash),
    prevHeader: hashToHex(p.prevHeader),
    count: p.filterHashes.length,
  }),
  getcfcheckpt: (p) => ({ filterType: p.filterType, stopHash: hashToHex(p.stopHash) }),
  cfcheckpt: (p) => ({ filterType: p.filterType, stopHash: hashToHex(p.stopHash), count: p.filterHeaders.length }),
  reject: (p) => ({ message: p.message, code: p.code, reason: p.reason, data: p.data ? hashToHex(p.data) : null }),
};

/** The bounded hex of a payload we have no codec for. */
function unknownSummary(payload: Uint8Array): UnknownSummary {
  return {
    length: payload.length,
    hex: toHex(payload.subarray(0, SUMMARY_UNKNOWN_BYTES)),
    truncated: payload.length > SUMMARY_UNKNOWN_BYTES,
  };
}

/** A message event's `command`, `known` and `payload`: the message's summary, keyed by its command. */
export function messageSummary(m: Message): MessageSummary {
  if (!isKnown(m)) return { command: m.command, known: false, payload: unknownSummary(m.payload) };
  // The table is indexed by the message's own command: its summariser takes exactly this payload.
  const summarise = SUMMARISERS[m.command] as (p: Payloads[KnownCommand]) => MessageSummaries[KnownCommand];
  let payload: MessageSummaries[KnownCommand] | DecodeFailure;
  try {
    payload = summarise(m.payload);
  } catch (error) {
    // A codec's output the summariser cannot read would be our bug: kept visible in the event, never thrown at a source.
    payload = { error: `summary failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  return { command: m.command, known: true, payload } as MessageSummary;
}

/** A JSON-safe, bounded summary of a message (the `payload` of its message event). */
export function summarizeMessage(m: Message): MessageSummaries[KnownCommand] | UnknownSummary {
  return messageSummary(m).payload as MessageSummaries[KnownCommand] | UnknownSummary;
}
