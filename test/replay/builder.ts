/**
 * Builds pcap files for tests: a TCP session carrying two recorded byte streams,
 * cut into segments, framed for any supported link type, written as classic pcap
 * in either byte order with micro- or nanosecond timestamps.
 */
import { ipFromString } from '../../src/protocol/address.js';
import { LINKTYPE } from '../../src/sources/replay/packet.js';

export interface Segment {
  from: 'client' | 'server';
  seq: number;
  ack?: number;
  syn?: boolean;
  ackFlag?: boolean;
  fin?: boolean;
  rst?: boolean;
  payload?: Uint8Array;
  timeUs: number;
}

export interface Endpoints {
  client: { ip: string; port: number };
  server: { ip: string; port: number };
}

export const LOOPBACK: Endpoints = { client: { ip: '127.0.0.1', port: 50123 }, server: { ip: '127.0.0.1', port: 18444 } };

export interface SessionOptions {
  /** Payload bytes per segment, or a function of the segment index. */
  mss?: number;
  clientIsn?: number;
  serverIsn?: number;
  /** SYN / SYN-ACK / ACK first (default true). */
  handshake?: boolean;
  /** FIN from both sides at the end (default true). */
  fin?: boolean;
  startUs?: number;
}

/** A TCP session: handshake, then client and server data alternating, then FINs. */
export function session(up: Uint8Array, down: Uint8Array, options: SessionOptions = {}): Segment[] {
  const mss = options.mss ?? 1400;
  let cSeq = options.clientIsn ?? 1000;
  let sSeq = options.serverIsn ?? 5000;
  let t = options.startUs ?? 1_700_000_000_000_000;
  const out: Segment[] = [];
  if (options.handshake ?? true) {
    out.push({ from: 'client', seq: cSeq, syn: true, timeUs: t++ });
    out.push({ from: 'server', seq: sSeq, syn: true, ackFlag: true, timeUs: t++ });
    cSeq = (cSeq + 1) >>> 0;
    sSeq = (sSeq + 1) >>> 0;
    out.push({ from: 'client', seq: cSeq, ackFlag: true, timeUs: t++ });
  }
  let ui = 0;
  let di = 0;
  while (ui < up.length || di < down.length) {
    if (ui < up.length) {
      const payload = up.subarray(ui, Math.min(up.length, ui + mss));
      out.push({ from: 'client', seq: cSeq, ackFlag: true, payload, timeUs: t++ });
      cSeq = (cSeq + payload.length) >>> 0;
      ui += payload.length;
    }
    if (di < down.length) {
      const payload = down.subarray(di, Math.min(down.length, di + mss));
      out.push({ from: 'server', seq: sSeq, ackFlag: true, payload, timeUs: t++ });
      sSeq = (sSeq + payload.length) >>> 0;
      di += payload.length;
    }
  }
  if (options.fin ?? true) {
    out.push({ from: 'client', seq: cSeq, fin: true, ackFlag: true, timeUs: t++ });
    out.push({ from: 'server', seq: sSeq, fin: true, ackFlag: true, timeUs: t++ });
    out.push({ from: 'client', seq: (cSeq + 1) >>> 0, ackFlag: true, timeUs: t++ });
  }
  return out;
}

function ipBytes(text: string): { v4: boolean; bytes: Uint8Array } {
  const ip = ipFromString(text);
  return text.includes(':') ? { v4: false, bytes: ip } : { v4: true, bytes: ip.subarray(12) };
}

/** IP + TCP packet of a segment. */
export function ipPacket(seg: Segment, ends: Endpoints = LOOPBACK): Uint8Array {
  const [src, dst] = seg.from === 'client' ? [ends.client, ends.server] : [ends.server, ends.client];
  const s = ipBytes(src.ip);
  const d = ipBytes(dst.ip);
  const payload = seg.payload ?? new Uint8Array(0);
  const tcp = new Uint8Array(20 + payload.length);
  const tv = new DataView(tcp.buffer);
  tv.setUint16(0, src.port);
  tv.setUint16(2, dst.port);
  tv.setUint32(4, seg.seq >>> 0);
  tv.setUint32(8, (seg.ack ?? 0) >>> 0);
  tcp[12] = 5 << 4;
  tcp[13] = (seg.fin ? 1 : 0) | (seg.syn ? 2 : 0) | (seg.rst ? 4 : 0) | (seg.ackFlag ? 0x10 : 0);
  tv.setUint16(14, 65535);
  tcp.set(payload, 20);
  if (s.v4) {
    const ip = new Uint8Array(20 + tcp.length);
    const v = new DataView(ip.buffer);
    ip[0] = 0x45;
    v.setUint16(2, ip.length);
    v.setUint16(6, 0x4000); // DF
    ip[8] = 64;
    ip[9] = 6;
    ip.set(s.bytes, 12);
    ip.set(d.bytes, 16);
    ip.set(tcp, 20);
    return ip;
  }
  const ip = new Uint8Array(40 + tcp.length);
  const v = new DataView(ip.buffer);
  ip[0] = 0x60;
  v.setUint16(4, tcp.length);
  ip[6] = 6;
  ip[7] = 64;
  ip.set(s.bytes, 8);
  ip.set(d.bytes, 24);
  ip.set(tcp, 40);
  return ip;
}

/** Wrap an IP packet in the link layer of `linkType`. */
export function linkFrame(linkType: number, ip: Uint8Array, littleEndianHost = true): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  const ethertype = v6 ? 0x86dd : 0x0800;
  const wrap = (header: Uint8Array): Uint8Array => {
    const out = new Uint8Array(header.length + ip.length);
    out.set(header);
    out.set(ip, header.length);
    return out;
  };
  switch (linkType) {
    case LINKTYPE.ethernet: {
      const h = new Uint8Array(14);
      h.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
      new DataView(h.buffer).setUint16(12, ethertype);
      // Ethernet pads frames to 60 bytes: the IP length must be used, not the frame's.
      const f = wrap(h);
      if (f.length >= 60) return f;
      const padded = new Uint8Array(60);
      padded.set(f);
      return padded;
    }
    case LINKTYPE.linuxSll: {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setUint16(14, ethertype);
      return wrap(h);
    }
    case LINKTYPE.linuxSll2: {
      const h = new Uint8Array(20);
      new DataView(h.buffer).setUint16(0, ethertype);
      return wrap(h);
    }
    case LINKTYPE.null:
    case LINKTYPE.loop: {
      const h = new Uint8Array(4);
      new DataView(h.buffer).setUint32(0, v6 ? 30 : 2, linkType === LINKTYPE.null && littleEndianHost);
      return wrap(h);
    }
    default:
      return ip.slice();
  }
}

export interface PcapRecordSpec {
  timeUs: number;
  data: Uint8Array;
  /** Length on the wire (default data.length); override inclLen to lie. */
  origLen?: number;
  inclLen?: number;
}

export interface PcapFileOptions {
  linkType: number;
  littleEndian?: boolean;
  nanoseconds?: boolean;
  snaplen?: number;
}

export function pcapHeader(o: PcapFileOptions): Uint8Array {
  const le = o.littleEndian ?? true;
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, o.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, o.snaplen ?? 262144, le);
  v.setUint32(20, o.linkType, le);
  return h;
}

export function pcapRecord(o: PcapFileOptions, r: PcapRecordSpec): Uint8Array {
  const le = o.littleEndian ?? true;
  const out = new Uint8Array(16 + r.data.length);
  const v = new DataView(out.buffer);
  const sec = Math.floor(r.timeUs / 1_000_000);
  const us = r.timeUs % 1_000_000;
  v.setUint32(0, sec, le);
  v.setUint32(4, o.nanoseconds ? us * 1000 + 999 : us, le);
  v.setUint32(8, r.inclLen ?? r.data.length, le);
  v.setUint32(12, r.origLen ?? r.data.length, le);
  out.set(r.data, 16);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A whole pcap file of segments. */
export function pcapFile(o: PcapFileOptions, segments: Segment[], ends: Endpoints = LOOPBACK): Uint8Array {
  return concat([
    pcapHeader(o),
    ...segments.map((s) => pcapRecord(o, { timeUs: s.timeUs, data: linkFrame(o.linkType, ipPacket(s, ends), o.littleEndian ?? true) })),
  ]);
}
