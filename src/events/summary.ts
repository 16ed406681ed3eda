/**
 * JSON-safe summaries of decoded messages for message events: 64-bit values as
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
import { ADDRV2_NETWORK, type InvItem, type Message, type NetAddr, type Tx } from '../protocol/messages/types.js';
import { serviceNames } from '../protocol/services.js';
import type { JsonValue } from './types.js';

/** How many items of a long list a summary shows. */
export const SUMMARY_ITEMS = 16;
/** How many bytes of an unknown payload a summary shows (as hex). */
export const SUMMARY_UNKNOWN_BYTES = 256;

const NETWORK_NAMES = new Map<number, string>(Object.entries(ADDRV2_NETWORK).map(([k, v]) => [v, k]));

function netAddr(a: NetAddr): JsonValue {
  return { addr: ipToString(a.ip), port: a.port, services: a.services.toString() };
}

function invSummary(items: InvItem[]): JsonValue {
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

export function summarizeTx(t: Tx): { [key: string]: JsonValue } {
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

function firstHashes(hashes: Uint8Array[]): JsonValue {
  return hashes.slice(0, SUMMARY_ITEMS).map(hashToHex);
}

/** A JSON-safe, bounded summary of a message. */
export function summarizeMessage(m: Message): JsonValue {
  if (!isKnown(m)) {
    return {
      length: m.payload.length,
      hex: toHex(m.payload.subarray(0, SUMMARY_UNKNOWN_BYTES)),
      truncated: m.payload.length > SUMMARY_UNKNOWN_BYTES,
    };
  }
  switch (m.command) {
    case 'version': {
      const v = m.payload;
      return {
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
      };
    }
    case 'verack':
    case 'getaddr':
    case 'sendaddrv2':
    case 'sendheaders':
    case 'mempool':
    case 'wtxidrelay':
    case 'filterclear':
      return {};
    case 'ping':
    case 'pong':
      return { nonce: m.payload.nonce.toString() };
    case 'addr':
      return {
        count: m.payload.entries.length,
        entries: m.payload.entries.map((e) => ({ time: e.time, services: e.services.toString(), addr: ipToString(e.ip), port: e.port })),
      };
    case 'addrv2':
      return {
        count: m.payload.entries.length,
        entries: m.payload.entries.map((e) => ({
          time: e.time,
          services: e.services.toString(),
          network: NETWORK_NAMES.get(e.networkId) ?? `net${e.networkId}`,
          addr: addrV2ToString(e.networkId, e.addr),
          port: e.port,
        })),
      };
    case 'inv':
    case 'getdata':
    case 'notfound':
      return invSummary(m.payload.items);
    case 'getheaders':
    case 'getblocks':
      return {
        version: m.payload.version,
        locatorCount: m.payload.locator.length,
        locator: firstHashes(m.payload.locator),
        stop: hashToHex(m.payload.stop),
      };
    case 'headers': {
      const hs = m.payload.headers;
      return {
        count: hs.length,
        first: hs.length > 0 ? hashToHex(blockHash(hs[0]!)) : null,
        last: hs.length > 0 ? hashToHex(blockHash(hs[hs.length - 1]!)) : null,
      };
    }
    case 'block': {
      const b = m.payload;
      return {
        hash: hashToHex(blockHash(b.header)),
        prevBlock: hashToHex(b.header.prevBlock),
        merkleRoot: hashToHex(b.header.merkleRoot),
        time: b.header.time,
        txCount: b.txs.length,
      };
    }
    case 'tx':
      return summarizeTx(m.payload);
    case 'feefilter':
      return { feeRate: m.payload.feeRate.toString() };
    case 'sendcmpct':
      return {
        announce: m.payload.announce,
        version: m.payload.version.toString(),
        ...(m.payload.announceByte !== undefined ? { announceByte: m.payload.announceByte } : {}),
      };
    case 'cmpctblock': {
      const c = m.payload;
      return {
        hash: hashToHex(blockHash(c.header)),
        prevBlock: hashToHex(c.header.prevBlock),
        nonce: c.nonce.toString(),
        shortIds: c.shortIds.length,
        prefilled: c.prefilled.length,
        prefilledIndexes: c.prefilled.slice(0, SUMMARY_ITEMS).map((p) => p.index),
      };
    }
    case 'getblocktxn':
      return {
        blockHash: hashToHex(m.payload.blockHash),
        count: m.payload.indexes.length,
        indexes: m.payload.indexes.slice(0, SUMMARY_ITEMS),
      };
    case 'blocktxn':
      return {
        blockHash: hashToHex(m.payload.blockHash),
        txCount: m.payload.txs.length,
        txids: m.payload.txs.slice(0, SUMMARY_ITEMS).map((t) => hashToHex(txid(t))),
      };
    case 'filterload':
      return { size: m.payload.filter.length, hashFuncs: m.payload.hashFuncs, tweak: m.payload.tweak, flags: m.payload.flags };
    case 'filteradd':
      return { size: m.payload.data.length, data: toHex(m.payload.data) };
    case 'merkleblock':
      return {
        hash: hashToHex(blockHash(m.payload.header)),
        totalTxs: m.payload.totalTxs,
        hashCount: m.payload.hashes.length,
        flagBytes: m.payload.flags.length,
      };
    case 'getcfilters':
    case 'getcfheaders':
      return { filterType: m.payload.filterType, startHeight: m.payload.startHeight, stopHash: hashToHex(m.payload.stopHash) };
    case 'cfilter':
      return { filterType: m.payload.filterType, blockHash: hashToHex(m.payload.blockHash), size: m.payload.filter.length };
    case 'cfheaders':
      return {
        filterType: m.payload.filterType,
        stopHash: hashToHex(m.payload.stopHash),
        prevHeader: hashToHex(m.payload.prevHeader),
        count: m.payload.filterHashes.length,
      };
    case 'getcfcheckpt':
      return { filterType: m.payload.filterType, stopHash: hashToHex(m.payload.stopHash) };
    case 'cfcheckpt':
      return { filterType: m.payload.filterType, stopHash: hashToHex(m.payload.stopHash), count: m.payload.filterHeaders.length };
    case 'reject':
      return {
        message: m.payload.message,
        code: m.payload.code,
        reason: m.payload.reason,
        data: m.payload.data ? hashToHex(m.payload.data) : null,
      };
  }
}
