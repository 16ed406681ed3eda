/**
 * Address helpers shared by the detectors, metrics, the relay analytics, HTTP and
 * the collective: `conn.remote` text to IP, netgroup, /24, and
 * CIDR lists (user-supplied watch lists and IP→ASN maps).
 */
import { classifyIp, ipFromString, isIpv4Mapped, netgroupOf, type IpClass } from '../protocol/address.js';

/**
 * A bounded memo for the pure functions below: detectors see the same remote
 * on every event of its connection (and several detectors see each event), so
 * its netgroup, /24 and class are parsed once, not per event and detector.
 * When full it starts over (cheap, and the live connections refill it at once).
 */
class Memo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string, compute: (key: string) => V): V {
    let v = this.map.get(key);
    if (v === undefined && !this.map.has(key)) {
      v = compute(key);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, v);
    }
    return v as V;
  }
}

const MEMO_SIZE = 8192;

/** The IP text of `ip:port` / `[v6]:port`, or the text itself when it has no port. */
export function ipOfRemote(remote: string): string {
  if (remote.charCodeAt(0) === 0x5b /* [ */) {
    const close = remote.indexOf(']');
    return close > 0 ? remote.slice(1, close) : remote;
  }
  const first = remote.indexOf(':');
  if (first >= 0 && remote.indexOf(':', first + 1) < 0) return remote.slice(0, first);
  return remote;
}

/**
 * A strict dotted quad (as ipFromString: four parts 0-255, no leading zeros)
 * into `out` (16-byte IPv4-mapped form), without allocating; false when `text`
 * is not one.
 */
function parseIpv4Into(text: string, out: Uint8Array): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; /* a final '.' closes the last part */
    if (c === 0x2e) {
      if (digits === 0 || value > 255 || part > 3) return false;
      out[12 + part++] = value;
      value = 0;
      digits = 0;
      leadingZero = false;
    } else if (c >= 0x30 && c <= 0x39) {
      if (leadingZero || digits === 3) return false;
      if (digits === 0 && c === 0x30) leadingZero = true;
      value = value * 10 + (c - 0x30);
      digits++;
    } else return false;
  }
  if (part !== 4) return false;
  out.fill(0, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  return true;
}

export function ip16(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (parseIpv4Into(text, out)) return out;
  if (!text.includes(':')) return undefined;
  try {
    return ipFromString(text);
  } catch {
    return undefined;
  }
}

const scratch = new Uint8Array(16);

/** ip16 without an allocation for IPv4 text: the result is only valid until the next call. */
function ip16Scratch(text: string): Uint8Array | undefined {
  return parseIpv4Into(text, scratch) ? scratch : ip16(text);
}

const netgroupMemo = new Memo<string>(MEMO_SIZE);

/** Core's netgroup of a remote, or 'unknown' when it is not an IP. */
export function netgroupOfRemote(remote: string): string {
  return netgroupMemo.get(remote, (r) => {
    const ip = ip16Scratch(ipOfRemote(r));
    if (!ip) return 'unknown';
    try {
      return netgroupOf(ip);
    } catch {
      return 'unknown';
    }
  });
}

/**
 * A group for concentration checks: Core's netgroup, except that loopback and
 * private IPv4 (Core's `local`/`unroutable`) are grouped by /16 so that tests,
 * simulations and private networks are judged like the internet.
 */
export function groupOfRemote(remote: string, netgroup?: string): string {
  const g = netgroup ?? netgroupOfRemote(remote);
  if (g !== 'local' && g !== 'unroutable') return g;
  const ip = ip16Scratch(ipOfRemote(remote));
  if (ip && isIpv4Mapped(ip)) return `${ip[12]}.${ip[13]}.0.0/16`;
  return g;
}

const slash24Memo = new Memo<string | undefined>(MEMO_SIZE);

/** IPv4 /24 (`1.2.3.0/24`) or IPv6 /48 of a remote; undefined when not an IP. */
export function slash24OfRemote(remote: string): string | undefined {
  return slash24Memo.get(remote, (r) => {
    const ip = ip16Scratch(ipOfRemote(r));
    if (!ip) return undefined;
    if (isIpv4Mapped(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.0/24`;
    const g = (i: number) => ((ip[i]! << 8) | ip[i + 1]!).toString(16);
    return `${g(0)}:${g(2)}:${g(4)}::/48`;
  });
}

/** The class of an IP text (addr entries: new text every time, so parsed without allocating, not memoised). */
export function classifyText(text: string): IpClass | undefined {
  const ip = ip16Scratch(text);
  return ip ? classifyIp(ip) : undefined;
}

export interface Cidr {
  text: string;
  bytes: Uint8Array;
  /** Prefix length in the 16-byte form (IPv4 /n is 96 + n). */
  bits: number;
}

export function parseCidr(text: string): Cidr {
  const [addr, lenText] = text.split('/');
  const ip = addr !== undefined ? ip16(addr) : undefined;
  if (!ip) throw new Error(`invalid CIDR ${JSON.stringify(text)}: expected a.b.c.d/n or v6::/n`);
  const v4 = isIpv4Mapped(ip) && !addr!.includes(':');
  const max = v4 ? 32 : 128;
  const len = lenText === undefined ? max : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > max) throw new Error(`invalid CIDR ${JSON.stringify(text)}: prefix length 0-${max}`);
  return { text, bytes: ip, bits: v4 ? 96 + len : len };
}

export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  let bits = cidr.bits;
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (ip[i] !== cidr.bytes[i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (ip[i]! & mask) === (cidr.bytes[i]! & mask);
}

/** A list of labelled CIDRs, matched longest-prefix-first. */
export class CidrList<L> {
  private readonly entries: { cidr: Cidr; label: L }[];
  constructor(entries: { cidr: string; label: L }[]) {
    this.entries = entries.map((e) => ({ cidr: parseCidr(e.cidr), label: e.label })).sort((a, b) => b.cidr.bits - a.cidr.bits);
  }

  private readonly memo = new Memo<{ cidr: string; label: L } | undefined>(MEMO_SIZE);

  match(ipText: string): { cidr: string; label: L } | undefined {
    if (this.entries.length === 0) return undefined;
    return this.memo.get(ipText, (t) => {
      const ip = ip16Scratch(t);
      if (!ip) return undefined;
      for (const e of this.entries) if (cidrContains(e.cidr, ip)) return { cidr: e.cidr.text, label: e.label };
      return undefined;
    });
  }

  get size(): number {
    return this.entries.length;
  }
}
