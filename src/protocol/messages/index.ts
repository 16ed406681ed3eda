/**
 * The message registry: command → codec, and the helpers every other module uses
 * to decode a frame's payload into a `Message` and back. Unknown commands are data
 * (`{ command, payload, unknown: true }`), never an error; known commands decode
 * strictly (every byte consumed) and fail with a `DecodeError` whose path starts
 * with the command, e.g. `addrv2.entries[3].addr`.
 */
import { type Codec, DecodeError, Reader, decode, encode } from '../codec.js';
import { encodeFrame } from '../framing.js';
import type { Network } from '../networks.js';
import { addr, addrv2 } from './addr.js';
import { block, getblocks, getheaders, headers, merkleblock } from './blocks.js';
import { filteradd, filterclear, filterload } from './bloom.js';
import { cfcheckpt, cfheaders, cfilter, getcfcheckpt, getcfheaders, getcfilters } from './cfilters.js';
import { blocktxn, cmpctblock, getblocktxn } from './compact.js';
import { feefilter, getaddr, mempool, ping, pong, sendaddrv2, sendcmpct, sendheaders, verack, version, wtxidrelay } from './handshake.js';
import { getdata, inv, notfound } from './inventory.js';
import { reject } from './reject.js';
import { tx } from './tx.js';
import type { KnownCommand, KnownMessage, Message, MessageOf, Payloads } from './types.js';

export const CODECS: { [K in KnownCommand]: Codec<Payloads[K]> } = Object.freeze({
  version,
  verack,
  ping,
  pong,
  getaddr,
  addr,
  addrv2,
  sendaddrv2,
  inv,
  getdata,
  notfound,
  getheaders,
  getblocks,
  headers,
  sendheaders,
  block,
  tx,
  mempool,
  feefilter,
  sendcmpct,
  cmpctblock,
  getblocktxn,
  blocktxn,
  wtxidrelay,
  filterload,
  filteradd,
  filterclear,
  merkleblock,
  getcfilters,
  cfilter,
  getcfheaders,
  cfheaders,
  getcfcheckpt,
  cfcheckpt,
  reject,
});

export const KNOWN_COMMANDS: readonly KnownCommand[] = Object.freeze(Object.keys(CODECS) as KnownCommand[]);

export function isKnownCommand(command: string): command is KnownCommand {
  return Object.prototype.hasOwnProperty.call(CODECS, command);
}

/**
 * Decode a payload. Unknown command → kept raw. Known command → strict decode; a
 * malformed payload throws `DecodeError` with the path prefixed by the command.
 */
export function decodeMessage(command: string, payload: Uint8Array): Message {
  if (!isKnownCommand(command)) return { command, payload, unknown: true };
  const codec = CODECS[command] as Codec<unknown>;
  try {
    return { command, payload: decode(codec, payload) } as KnownMessage;
  } catch (e) {
    throw e instanceof DecodeError ? e.within(command) : e;
  }
}

/**
 * Decode a payload's message and report the bytes after it instead of failing on
 * them. Bitcoin Core reads what it needs and ignores the rest, so an observer that
 * behaves like Core processes such a message (and records the extra bytes); strict
 * `decodeMessage` stays the default everywhere else.
 */
export function decodeMessagePrefix(command: string, payload: Uint8Array): { message: Message; trailing: number } {
  if (!isKnownCommand(command)) return { message: { command, payload, unknown: true }, trailing: 0 };
  const codec = CODECS[command] as Codec<unknown>;
  const r = new Reader(payload);
  try {
    return { message: { command, payload: codec.read(r) } as KnownMessage, trailing: r.remaining };
  } catch (e) {
    throw e instanceof DecodeError ? e.within(command) : e;
  }
}

export function isKnown(m: Message): m is KnownMessage {
  return !('unknown' in m && m.unknown === true);
}

/** The payload bytes of a message (an unknown message's raw payload as it is). */
export function encodePayload(m: Message): Uint8Array {
  if (!isKnown(m)) return m.payload;
  const codec = CODECS[m.command] as Codec<unknown>;
  return encode(codec, m.payload);
}

/** A complete v1 frame (header + payload) for `network`. */
export function encodeMessageFrame(network: Network, m: Message): Uint8Array {
  return encodeFrame(network, m.command, encodePayload(m));
}

/** Build a typed message: `msg('ping', { nonce: 1n })`. */
export function msg<K extends KnownCommand>(command: K, payload: Payloads[K]): MessageOf<K> {
  return { command, payload } as MessageOf<K>;
}
