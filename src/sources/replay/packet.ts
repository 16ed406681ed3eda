/**
 * One captured frame → a TCP segment: link layer (Ethernet with VLAN tags, Linux
 * cooked SLL/SLL2, raw IP, BSD loopback NULL/LOOP), IPv4 or IPv6 (extension
 * headers skipped), TCP. Anything else is a typed skip reason, counted by the
 * caller. Checksums are not verified: captures on the sending host (loopback
 * included) carry offloaded, unfinished checksums.
 */

export const LINKTYPE = Object.freeze({
  null: 0,
  ethernet: 1,
  rawOpenBsd: 12,
  raw: 101,
  loop: 108,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
});

const SUPPORTED: ReadonlyMap<number, string> = new Map([
  [LINKTYPE.null, 'NULL (BSD loopback)'],
  [LINKTYPE.ethernet, 'Ethernet'],
  [LINKTYPE.rawOpenBsd, 'raw IP'],
  [LINKTYPE.raw, 'raw IP'],
  [LINKTYPE.loop, 'LOOP (OpenBSD loopback)'],
  [LINKTYPE.linuxSll, 'Linux cooked (SLL)'],
  [LINKTYPE.ipv4, 'raw IPv4'],
  [LINKTYPE.ipv6, 'raw IPv6'],
  [LINKTYPE.linuxSll2, 'Linux cooked v2 (SLL2)'],
]);

export function linkTypeName(linkType: number): string | undefined {
  return SUPPORTED.get(linkType);
}

export const SUPPORTED_LINK_TYPES: readonly number[] = [...SUPPORTED.keys()];

export interface TcpSegment {
  /** 16-byte address (IPv4 as ::ffff:a.b.c.d). */
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  syn: boolean;
  ackFlag: boolean;
  fin: boolean;
  rst: boolean;
  /** Payload length according to the IP header. */
  length: number;
  /** The payload, or undefined when the capture cut it short (snaplen). */
  payload: Uint8Array | undefined;
}

export type SkipReason =
  | 'short' // a header cut short by the capture or malformed lengths
  | 'not-ip' // another ethertype / address family
  | 'not-tcp' // UDP, ICMP, ...
  | 'ip-fragment'; // fragments are not reassembled (TCP avoids them with PMTU discovery)

export type ParsedPacket = { ok: true; segment: TcpSegment } | { ok: false; reason: SkipReason };

const skip = (reason: SkipReason): ParsedPacket => ({ ok: false, reason });

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 4;

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Parse one captured frame of the given link type (possibly cut short by the snaplen). */
export function parsePacket(linkType: number, frame: Uint8Array): ParsedPacket {
  switch (linkType) {
    case LINKTYPE.ethernet: {
      let at = 12;
      let type = frame.length >= 14 ? u16(frame, 12) : -1;
      for (let tags = 0; ETHERTYPE_VLAN.has(type) && tags < MAX_VLAN_TAGS; tags++) {
        at += 4;
        if (frame.length < at + 2) return skip('short');
        type = u16(frame, at);
      }
      if (type < 0) return skip('short');
      return ethertype(type, frame, at + 2);
    }
    case LINKTYPE.linuxSll:
      if (frame.length < 16) return skip('short');
      return ethertype(u16(frame, 14), frame, 16);
    case LINKTYPE.linuxSll2:
      if (frame.length < 20) return skip('short');
      return ethertype(u16(frame, 0), frame, 20);
    case LINKTYPE.raw:
    case LINKTYPE.rawOpenBsd:
    case LINKTYPE.ipv4:
    case LINKTYPE.ipv6:
      return ipByVersion(frame, 0);
    case LINKTYPE.null:
    case LINKTYPE.loop:
      // A 4-byte address family in the capturing host's (NULL) or network (LOOP)
      // byte order, with values that differ between systems: the IP version nibble
      // that follows says the same thing without guessing.
      if (frame.length < 5) return skip('short');
      return ipByVersion(frame, 4);
    default:
      return skip('not-ip');
  }
}

function ethertype(type: number, frame: Uint8Array, at: number): ParsedPacket {
  if (type === ETHERTYPE_IPV4) return ipv4(frame, at);
  if (type === ETHERTYPE_IPV6) return ipv6(frame, at);
  return skip('not-ip');
}

function ipByVersion(frame: Uint8Array, at: number): ParsedPacket {
  if (frame.length <= at) return skip('short');
  const version = frame[at]! >> 4;
  if (version === 4) return ipv4(frame, at);
  if (version === 6) return ipv6(frame, at);
  return skip('not-ip');
}

function ipv4(frame: Uint8Array, at: number): ParsedPacket {
  if (frame.length < at + 20) return skip('short');
  if (frame[at]! >> 4 !== 4) return skip('not-ip');
  const ihl = (frame[at]! & 0x0f) * 4;
  const total = u16(frame, at + 2);
  if (ihl < 20 || total < ihl) return skip('short');
  const flagsFrag = u16(frame, at + 6);
  if ((flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0) return skip('ip-fragment');
  if (frame[at + 9] !== 6) return skip('not-tcp');
  const src = new Uint8Array(16);
  const dst = new Uint8Array(16);
  src[10] = src[11] = dst[10] = dst[11] = 0xff;
  if (frame.length < at + ihl) return skip('short');
  src.set(frame.subarray(at + 12, at + 16), 12);
  dst.set(frame.subarray(at + 16, at + 20), 12);
  // Ethernet pads short frames: the IP total length says where the packet ends.
  return tcp(frame, at + ihl, at + total, src, dst);
}

/** Extension headers that may precede TCP, skipped by their length field. */
const IPV6_EXTENSIONS = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;
const MAX_IPV6_EXTENSIONS = 8;

function ipv6(frame: Uint8Array, at: number): ParsedPacket {
  if (frame.length < at + 40) return skip('short');
  if (frame[at]! >> 4 !== 6) return skip('not-ip');
  const payloadLen = u16(frame, at + 4);
  if (payloadLen === 0) return skip('short'); // jumbogram or empty
  const end = at + 40 + payloadLen;
  let next = frame[at + 6]!;
  let p = at + 40;
  for (let n = 0; IPV6_EXTENSIONS.has(next); n++) {
    if (n >= MAX_IPV6_EXTENSIONS || frame.length < p + 8) return skip('short');
    next = frame[p]!;
    p += (frame[p + 1]! + 1) * 8;
  }
  if (next === IPV6_FRAGMENT) return skip('ip-fragment');
  if (next !== 6) return skip('not-tcp');
  if (p > end) return skip('short');
  return tcp(frame, p, end, frame.slice(at + 8, at + 24), frame.slice(at + 24, at + 40));
}

/** TCP header at `at`, the IP packet ending at `end` (in the uncut packet). */
function tcp(frame: Uint8Array, at: number, end: number, srcIp: Uint8Array, dstIp: Uint8Array): ParsedPacket {
  if (frame.length < at + 20) return skip('short');
  const dataOffset = (frame[at + 12]! >> 4) * 4;
  if (dataOffset < 20 || at + dataOffset > end) return skip('short');
  const flags = frame[at + 13]!;
  const start = at + dataOffset;
  const length = end - start;
  // The payload is whole when the capture holds every byte the IP header claims.
  const whole = end <= frame.length;
  return {
    ok: true,
    segment: {
      srcIp,
      dstIp,
      srcPort: u16(frame, at),
      dstPort: u16(frame, at + 2),
      seq: u32(frame, at + 4),
      ack: u32(frame, at + 8),
      fin: (flags & 0x01) !== 0,
      syn: (flags & 0x02) !== 0,
      rst: (flags & 0x04) !== 0,
      ackFlag: (flags & 0x10) !== 0,
      length,
      payload: whole ? frame.subarray(start, end) : undefined,
    },
  };
}
