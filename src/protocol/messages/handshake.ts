/** The handshake family: version, verack, ping/pong, feature negotiation (BIP130, BIP133, BIP152, BIP155, BIP339). */
import { type Codec, type Reader, type Writer } from '../codec.js';
import { MAX_SUBVERSION_LENGTH } from '../limits.js';
import { empty, i32le, i64le, struct, u8, u64le, varString } from '../primitives.js';
import { rethrow } from './common.js';
import type { Empty, FeeFilter, NetAddr, Ping, SendCmpct, Version } from './types.js';

/** services (u64), IPv6/IPv4-mapped address (16), port (u16 big-endian): 26 bytes. */
export const netAddr: Codec<NetAddr> = {
  name: 'netAddr',
  fixedSize: 26,
  read(r) {
    r.need(26, 'netAddr');
    const at = r.offset;
    const value: NetAddr = {
      services: r.view.getBigUint64(at, true),
      ip: r.bytes.subarray(at + 8, at + 24),
      port: r.view.getUint16(at + 24, false),
    };
    r.offset = at + 26;
    return value;
  },
  write(w, a) {
    if (a.ip.length !== 16) throw new RangeError(`netAddr.ip: expected 16 bytes, got ${a.ip.length}`);
    const at = w.reserve(26);
    w.dataView.setBigUint64(at, a.services, true);
    w.bytesAt(at + 8, 16).set(a.ip);
    w.dataView.setUint16(at + 24, a.port, false);
  },
};

const userAgent = varString(MAX_SUBVERSION_LENGTH, 'userAgent');

function field<T>(r: Reader, codec: Codec<T>, path: string): T {
  try {
    return codec.read(r);
  } catch (e) {
    throw rethrow(e, path);
  }
}

/**
 * version. As in Bitcoin Core, everything after the receiver address may be missing:
 * sender and nonce come together, then user agent, start height and relay, each
 * optional only if all later ones are absent too. Bytes after relay are an error.
 */
export const version: Codec<Version> = {
  name: 'version',
  read(r) {
    const v: Version = {
      version: field(r, i32le, 'version'),
      services: field(r, u64le, 'services'),
      timestamp: field(r, i64le, 'timestamp'),
      receiver: field(r, netAddr, 'receiver'),
    };
    if (r.remaining > 0) {
      v.sender = field(r, netAddr, 'sender');
      v.nonce = field(r, u64le, 'nonce');
    }
    if (r.remaining > 0) v.userAgent = field(r, userAgent, 'userAgent');
    if (r.remaining > 0) v.startHeight = field(r, i32le, 'startHeight');
    if (r.remaining > 0) {
      // Core reads the relay byte as `byte != 0`: accept any byte as Core does, and
      // keep a non-canonical one so the value re-encodes exactly and shows as a fingerprint.
      const b = field(r, u8, 'relay');
      v.relay = b !== 0;
      if (b > 1) v.relayByte = b;
    }
    return v;
  },
  write(w: Writer, v) {
    i32le.write(w, v.version);
    u64le.write(w, v.services);
    i64le.write(w, v.timestamp);
    netAddr.write(w, v.receiver);
    const tail = [v.sender ?? v.nonce, v.userAgent, v.startHeight, v.relay];
    let last = -1;
    tail.forEach((x, i) => {
      if (x !== undefined) last = i;
    });
    for (let i = 0; i <= last; i++) {
      if (tail[i] === undefined)
        throw new RangeError(`version: optional fields must be given in order (field ${i + 1} missing before ${last + 1})`);
    }
    if (last < 0) return;
    if (v.sender === undefined || v.nonce === undefined) throw new RangeError('version: sender and nonce go together');
    netAddr.write(w, v.sender);
    u64le.write(w, v.nonce);
    if (last < 1) return;
    userAgent.write(w, v.userAgent!);
    if (last < 2) return;
    i32le.write(w, v.startHeight!);
    if (last < 3) return;
    u8.write(w, canonicalOr(v.relay!, v.relayByte, 'version.relay'));
  },
};

export const verack: Codec<Empty> = { ...empty, name: 'verack' };
export const getaddr: Codec<Empty> = { ...empty, name: 'getaddr' };
export const sendaddrv2: Codec<Empty> = { ...empty, name: 'sendaddrv2' };
export const sendheaders: Codec<Empty> = { ...empty, name: 'sendheaders' };
export const wtxidrelay: Codec<Empty> = { ...empty, name: 'wtxidrelay' };
export const mempool: Codec<Empty> = { ...empty, name: 'mempool' };

const pingFields = struct<Ping>('ping', { nonce: u64le });

/** ping/pong: a u64 nonce (BIP31). Hand-written read (a third of all messages): the same value and errors as the struct. */
function nonceMessage(name: string): Codec<Ping> {
  return {
    name,
    fixedSize: 8,
    read(r) {
      if (r.remaining < 8) return pingFields.read(r); // throws the struct's error, with its path
      const at = r.offset;
      r.offset = at + 8;
      return { nonce: r.u64At(at) };
    },
    write: pingFields.write,
  };
}
export const ping: Codec<Ping> = nonceMessage('ping');
export const pong: Codec<Ping> = nonceMessage('pong');

/** BIP133: minimum fee rate in sat per 1000 vbytes (int64). */
export const feefilter: Codec<FeeFilter> = struct<FeeFilter>('feefilter', { feeRate: i64le });

/** BIP152: high-bandwidth flag and compact block version. */
/** sendcmpct (BIP152). Like Core, any non-zero announce byte means true; a non-canonical one is kept (see version's relay). */
export const sendcmpct: Codec<SendCmpct> = {
  name: 'sendcmpct',
  fixedSize: 9,
  read(r) {
    const b = field(r, u8, 'announce');
    const out: SendCmpct = { announce: b !== 0, version: field(r, u64le, 'version') };
    if (b > 1) out.announceByte = b;
    return out;
  },
  write(w, v) {
    u8.write(w, canonicalOr(v.announce, v.announceByte, 'sendcmpct.announce'));
    u64le.write(w, v.version);
  },
};

/** The byte for a bool: 0/1, or the non-canonical byte a peer sent (which must agree with the bool). */
function canonicalOr(value: boolean, byte: number | undefined, what: string): number {
  if (byte === undefined) return value ? 1 : 0;
  if (!Number.isInteger(byte) || byte < 2 || byte > 255 || !value) throw new RangeError(`${what}: byte ${byte} does not encode ${value}`);
  return byte;
}
