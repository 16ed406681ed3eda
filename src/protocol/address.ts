/**
 * Network addresses as text, Bitcoin Core's network groups, and a coarse
 * classification of IP ranges (used to refuse scanning private space and to flag
 * reserved addresses a peer advertises).
 *
 * Addresses are the protocol's 16-byte form: IPv6, or IPv4-mapped ::ffff:a.b.c.d.
 * The ranges and grouping rules follow Bitcoin Core's netaddress/netgroup (facts
 * checked against its source, no code taken).
 */
import { createHash } from 'node:crypto';
import { ADDRV2_NETWORK } from './messages/types.js';

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** True for ::ffff:a.b.c.d. */
export function isIpv4Mapped(ip16: Uint8Array): boolean {
  if (ip16.length !== 16) return false;
  for (let i = 0; i < 12; i++) if (ip16[i] !== IPV4_MAPPED_PREFIX[i]) return false;
  return true;
}

function checkIp16(ip16: Uint8Array): void {
  if (ip16.length !== 16) throw new RangeError(`an IP address has 16 bytes, got ${ip16.length}`);
}

function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** IPv6 text per RFC 5952: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** IPv4-mapped addresses as a dotted quad, everything else as canonical IPv6 text (RFC 5952). */
export function ipToString(ip16: Uint8Array): string {
  checkIp16(ip16);
  return isIpv4Mapped(ip16) ? ipv4Text(ip16, 12) : ipv6Text(ip16);
}

/** Parse a strict dotted quad (four decimal parts 0-255, no leading zeros) or return undefined. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tail4: number[] | undefined;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (!tail4) return undefined;
    body = text.slice(0, lastColon + 1);
    // keep a trailing "::" intact, turn "x:" into "x"
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1);
  }
  const maxGroups = tail4 ? 6 : 8;
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = maxGroups - head.length - rest.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    if (head.length !== maxGroups) return undefined;
    groups = head;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parse IPv4 or IPv6 text into the protocol's 16-byte form (IPv4 becomes ::ffff:a.b.c.d). */
export function ipFromString(text: string): Uint8Array {
  const v4 = parseIpv4(text);
  if (v4) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  if (v6) return v6;
  throw new Error(`invalid IP address ${JSON.stringify(text)}: expected IPv4 (1.2.3.4) or IPv6 (2001:db8::1)`);
}

/** `1.2.3.4:8333`, `[::1]:8333`. */
export function formatEndpoint(ipText: string, port: number): string {
  return ipText.includes(':') ? `[${ipText}]:${port}` : `${ipText}:${port}`;
}

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new Error(`invalid port in ${JSON.stringify(whole)}: expected a number 1-65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(whole)}: ${port} is outside 1-65535`);
  return port;
}

/**
 * Parse `host:port`: IPv4 (`1.2.3.4:8333`), IPv6 in brackets (`[2001:db8::1]:8333`) or a
 * DNS name (`node.example.org:8333`). IP hosts come back in canonical text, IPv6 without
 * brackets. With `defaultPort` the port may be left out.
 */
export function parseEndpoint(text: string, defaultPort?: number): { host: string; port: number } {
  const s = text.trim();
  if (s === '') throw new Error('empty address: expected host:port');
  let hostText: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new Error(`invalid address ${JSON.stringify(text)}: missing ']'`);
    hostText = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new Error(`invalid address ${JSON.stringify(text)}: expected ':' after ']'`);
      portText = after.slice(1);
    }
    if (!hostText.includes(':')) throw new Error(`invalid address ${JSON.stringify(text)}: brackets are for IPv6 only`);
    const ip = parseIpv6(hostText);
    if (!ip) throw new Error(`invalid IPv6 address ${JSON.stringify(hostText)} in ${JSON.stringify(text)}`);
    hostText = ipToString(ip);
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) throw new Error(`invalid address ${JSON.stringify(text)}: put an IPv6 address in brackets, e.g. [::1]:8333`);
    const at = s.lastIndexOf(':');
    hostText = at >= 0 ? s.slice(0, at) : s;
    if (at >= 0) portText = s.slice(at + 1);
    if (/^[0-9.]+$/.test(hostText)) {
      if (!parseIpv4(hostText)) throw new Error(`invalid IPv4 address ${JSON.stringify(hostText)} in ${JSON.stringify(text)}`);
    } else if (!HOSTNAME.test(hostText)) {
      throw new Error(`invalid host ${JSON.stringify(hostText)} in ${JSON.stringify(text)}: expected an IP address or a DNS name`);
    }
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) throw new Error(`missing port in ${JSON.stringify(text)}: expected host:port`);
    port = defaultPort;
  } else {
    port = parsePort(portText, text);
  }
  return { host: hostText, port };
}

// ---------------------------------------------------------------------------
// Classification

export type IpClass = 'routable' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'reserved' | 'unspecified';

function inPrefix(b: Uint8Array, at: number, prefix: number[], bits: number): boolean {
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (b[at + i] !== prefix[i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (b[at + i]! & mask) === ((prefix[i] ?? 0) & mask);
}

function classifyIpv4(b: Uint8Array, at: number): IpClass {
  const a0 = b[at]!;
  const a1 = b[at + 1]!;
  if (a0 === 0 && a1 === 0 && b[at + 2] === 0 && b[at + 3] === 0) return 'unspecified';
  if (a0 === 127) return 'loopback';
  // RFC 1918
  if (a0 === 10 || (a0 === 172 && (a1 & 0xf0) === 16) || (a0 === 192 && a1 === 168)) return 'private';
  if (a0 === 169 && a1 === 254) return 'link-local'; // RFC 3927
  if ((a0 & 0xf0) === 224) return 'multicast';
  if (
    a0 === 0 || // "this network" (Core: local)
    (a0 & 0xf0) === 240 || // RFC 1112 future use, includes 255.255.255.255
    (a0 === 100 && (a1 & 0xc0) === 64) || // RFC 6598 shared address space
    (a0 === 198 && (a1 & 0xfe) === 18) || // RFC 2544 benchmarking
    inPrefix(b, at, [192, 0, 2], 24) || // RFC 5737 documentation
    inPrefix(b, at, [198, 51, 100], 24) ||
    inPrefix(b, at, [203, 0, 113], 24) ||
    inPrefix(b, at, [192, 0, 0], 24) // RFC 6890 IETF protocol assignments
  ) {
    return 'reserved';
  }
  return 'routable';
}

/**
 * Coarse class of a 16-byte address. `routable` matches Bitcoin Core's IsRoutable
 * except that multicast, 240/4 and 192.0.0.0/24 are also excluded here (Core accepts
 * them as routable). IPv4-mapped, RFC 6145 and RFC 6052 (NAT64) addresses are
 * classified by their embedded IPv4 address.
 */
export function classifyIp(ip16: Uint8Array): IpClass {
  checkIp16(ip16);
  if (isIpv4Mapped(ip16)) return classifyIpv4(ip16, 12);
  if (ip16.every((x) => x === 0)) return 'unspecified';
  if (inPrefix(ip16, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 120) && ip16[15] === 1) return 'loopback';
  // RFC 6145 ::ffff:0:a.b.c.d and RFC 6052 64:ff9b::a.b.c.d embed an IPv4 address
  if (inPrefix(ip16, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 96)) return classifyIpv4(ip16, 12);
  if (inPrefix(ip16, 0, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return classifyIpv4(ip16, 12);
  if (ip16[0] === 0xff) return 'multicast';
  if (inPrefix(ip16, 0, [0xfe, 0x80], 10)) return 'link-local'; // Core: RFC 4862 fe80::/64
  if (inPrefix(ip16, 0, [0xfc], 7)) return 'private'; // RFC 4193 unique local (includes Core's internal fd6b:88c0:8724::/48)
  if (
    inPrefix(ip16, 0, [0x20, 0x01, 0x0d, 0xb8], 32) || // RFC 3849 documentation
    inPrefix(ip16, 0, [0x20, 0x01, 0x00, 0x10], 28) || // RFC 4843 ORCHID
    inPrefix(ip16, 0, [0x20, 0x01, 0x00, 0x20], 28) || // RFC 7343 ORCHIDv2
    inPrefix(ip16, 0, [0x01, 0x00, 0, 0, 0, 0, 0, 0], 64) || // RFC 6666 discard-only
    inPrefix(ip16, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 96) // deprecated IPv4-compatible ::a.b.c.d
  ) {
    return 'reserved';
  }
  return 'routable';
}

// ---------------------------------------------------------------------------
// Base32 (RFC 4648, lowercase, no padding) for Tor and I2P names

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32Encode(data: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of data) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text.toLowerCase()) {
    const v = B32.indexOf(ch);
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  return new Uint8Array(out);
}

const TORV3_VERSION = 3;

function torV3Checksum(pubkey: Uint8Array): Uint8Array {
  // rend-spec-v3: CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2]
  return createHash('sha3-256').update('.onion checksum').update(pubkey).update(Uint8Array.of(TORV3_VERSION)).digest().subarray(0, 2);
}

/** `<base32(pubkey | checksum | version)>.onion` for a 32-byte ed25519 key. */
export function torV3ToString(pubkey: Uint8Array): string {
  const all = new Uint8Array(35);
  all.set(pubkey, 0);
  all.set(torV3Checksum(pubkey), 32);
  all[34] = TORV3_VERSION;
  return `${base32Encode(all)}.onion`;
}

/** The 32-byte key of a v3 onion name; throws on a bad name, version or checksum. */
export function torV3FromString(name: string): Uint8Array {
  const m = /^([a-z2-7]{56})\.onion$/i.exec(name);
  const raw = m ? base32Decode(m[1]!) : undefined;
  if (!raw || raw.length !== 35) throw new Error(`invalid Tor v3 address ${JSON.stringify(name)}`);
  const key = raw.slice(0, 32);
  const sum = torV3Checksum(key);
  if (raw[34] !== TORV3_VERSION || raw[32] !== sum[0] || raw[33] !== sum[1]) {
    throw new Error(`invalid Tor v3 address ${JSON.stringify(name)}: bad version or checksum`);
  }
  return key;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Text for a BIP155 address: IPv4/IPv6/CJDNS as IP text, TorV3 as `<base32>.onion`,
 * I2P as `<base32>.b32.i2p`, the retired TorV2 (10 bytes) as its old onion name, and
 * anything else (unknown network or unexpected length) as `net<id>:<hex>`.
 */
export function addrV2ToString(networkId: number, bytes: Uint8Array): string {
  switch (networkId) {
    case ADDRV2_NETWORK.ipv4:
      if (bytes.length === 4) return ipv4Text(bytes, 0);
      break;
    case ADDRV2_NETWORK.ipv6:
    case ADDRV2_NETWORK.cjdns:
      if (bytes.length === 16) return ipv6Text(bytes);
      break;
    case ADDRV2_NETWORK.torv2:
      if (bytes.length === 10) return `${base32Encode(bytes)}.onion`;
      break;
    case ADDRV2_NETWORK.torv3:
      if (bytes.length === 32) return torV3ToString(bytes);
      break;
    case ADDRV2_NETWORK.i2p:
      if (bytes.length === 32) return `${base32Encode(bytes)}.b32.i2p`;
      break;
  }
  return `net${networkId}:${hex(bytes)}`;
}

// ---------------------------------------------------------------------------
// Network groups (Bitcoin Core's NetGroupManager::GetGroup without an ASMap)

/** The IPv4 address an IPv6 address carries, per Core's HasLinkedIPv4 (mapped, 6145, 6052, 6to4, Teredo). */
function linkedIpv4(ip16: Uint8Array): Uint8Array | undefined {
  if (isIpv4Mapped(ip16)) return ip16.subarray(12, 16);
  if (inPrefix(ip16, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 96)) return ip16.subarray(12, 16); // RFC 6145
  if (inPrefix(ip16, 0, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return ip16.subarray(12, 16); // RFC 6052
  if (inPrefix(ip16, 0, [0x20, 0x02], 16)) return ip16.subarray(2, 6); // RFC 3964 6to4
  if (inPrefix(ip16, 0, [0x20, 0x01, 0, 0], 32)) return ip16.subarray(12, 16).map((x) => x ^ 0xff); // RFC 4380 Teredo
  return undefined;
}

function ipv6PrefixText(ip16: Uint8Array, bits: number): string {
  const masked = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    masked[i] = ip16[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${ipv6Text(masked)}/${bits}`;
}

/** Is this a non-routable address in Core's sense (IsRoutable false)? */
function coreUnroutable(ip16: Uint8Array): boolean {
  const v4 = isIpv4Mapped(ip16);
  if (v4) {
    const c = classifyIpv4(ip16, 12);
    // Core treats multicast, 240/4 (but not 255.255.255.255) and 192.0.0.0/24 as routable.
    if (c === 'routable' || c === 'multicast') return false;
    if (c === 'reserved') {
      const a0 = ip16[12]!;
      if ((a0 & 0xf0) === 240) return ip16.subarray(12).every((x) => x === 0xff);
      if (inPrefix(ip16, 12, [192, 0, 0], 24)) return false;
    }
    return true;
  }
  const c = classifyIp(ip16);
  if (c === 'routable' || c === 'multicast') return false;
  if (c === 'reserved' && (inPrefix(ip16, 0, [0x01], 8) || inPrefix(ip16, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 96))) return false;
  return true;
}

/**
 * Bitcoin Core's network group of an address, as text: IPv4 `/16` (`1.2.0.0/16`);
 * IPv6 `/32` (`2001:db8::/32`), Hurricane Electric 2001:470::/32 as `/36`; IPv6
 * addresses that carry an IPv4 address (mapped, RFC 6145/6052, 6to4, Teredo) by that
 * IPv4 `/16`; `local` for loopback and 0/8, `unroutable` for other non-routable
 * space, `internal` for Core's internal range; Tor and I2P by the first 4 bits of the
 * key (`onion:a/4`, `i2p:3/4`) and CJDNS by its first 12 bits (`cjdns:fc50::/12`).
 *
 * Accepts the 16-byte form, IP text, a v3 onion name or a `.b32.i2p` name.
 */
export function netgroupOf(address: Uint8Array | string): string {
  if (typeof address === 'string') {
    const lower = address.toLowerCase();
    if (lower.endsWith('.onion')) return `onion:${(torV3FromString(lower)[0]! >> 4).toString(16)}/4`;
    if (lower.endsWith('.b32.i2p')) {
      const key = base32Decode(lower.slice(0, -'.b32.i2p'.length));
      if (!key || key.length !== 32) throw new Error(`invalid I2P address ${JSON.stringify(address)}`);
      return `i2p:${(key[0]! >> 4).toString(16)}/4`;
    }
    return netgroupOf(ipFromString(address));
  }
  checkIp16(address);
  const ip = address;
  if (isIpv4Mapped(ip)) {
    const a0 = ip[12]!;
    if (a0 === 127 || a0 === 0) return 'local';
  } else if (ip.every((x, i) => x === (i === 15 ? 1 : 0))) {
    return 'local';
  }
  if (inPrefix(ip, 0, [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24], 48)) return `internal:${hex(ip.subarray(6))}`;
  if (coreUnroutable(ip)) return 'unroutable';
  const v4 = linkedIpv4(ip);
  if (v4) return `${v4[0]}.${v4[1]}.0.0/16`;
  if (inPrefix(ip, 0, [0x20, 0x01, 0x04, 0x70], 32)) return ipv6PrefixText(ip, 36);
  return ipv6PrefixText(ip, 32);
}

/** Network group of a BIP155 address (Tor/I2P/CJDNS as Core groups them). */
export function netgroupOfAddrV2(networkId: number, bytes: Uint8Array): string {
  switch (networkId) {
    case ADDRV2_NETWORK.ipv4:
      if (bytes.length === 4) {
        const ip = new Uint8Array(16);
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip.set(bytes, 12);
        return netgroupOf(ip);
      }
      break;
    case ADDRV2_NETWORK.ipv6:
      if (bytes.length === 16) return netgroupOf(bytes);
      break;
    case ADDRV2_NETWORK.torv3:
      if (bytes.length === 32) return `onion:${(bytes[0]! >> 4).toString(16)}/4`;
      break;
    case ADDRV2_NETWORK.i2p:
      if (bytes.length === 32) return `i2p:${(bytes[0]! >> 4).toString(16)}/4`;
      break;
    case ADDRV2_NETWORK.cjdns:
      if (bytes.length === 16) return `cjdns:${ipv6PrefixText(bytes, 12)}`;
      break;
  }
  return 'unroutable';
}

/** `ip:port` for a decoded 16-byte address; never throws (a malformed one reads `?:port`). */
export function endpointOfBytes(ip: Uint8Array, port: number): string {
  try {
    return formatEndpoint(ipToString(ip), port);
  } catch {
    return `?:${port}`;
  }
}
