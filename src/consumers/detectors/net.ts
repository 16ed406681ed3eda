/**
 * Address helpers for detectors: `conn.remote` text to IP, netgroup, /24, and
 * CIDR lists (user-supplied watch lists and IP→ASN maps).
 */
import { classifyIp, ipFromString, isIpv4Mapped, netgroupOf, type IpClass } from '../../protocol/address.js';

/** The IP text of `ip:port` / `[v6]:port`, or the text itself when it has no port. */
export function ipOfRemote(remote: string): string {
  if (remote.startsWith('[')) {
    const close = remote.indexOf(']');
    return close > 0 ? remote.slice(1, close) : remote;
  }
  const colons = remote.split(':').length - 1;
  if (colons === 1) return remote.slice(0, remote.lastIndexOf(':'));
  return remote;
}

export function ip16(text: string): Uint8Array | undefined {
  try {
    return ipFromString(text);
  } catch {
    return undefined;
  }
}

/** Core's netgroup of a remote, or 'unknown' when it is not an IP. */
export function netgroupOfRemote(remote: string): string {
  const ip = ip16(ipOfRemote(remote));
  if (!ip) return 'unknown';
  try {
    return netgroupOf(ip);
  } catch {
    return 'unknown';
  }
}

/**
 * A group for concentration checks: Core's netgroup, except that loopback and
 * private IPv4 (Core's `local`/`unroutable`) are grouped by /16 so that tests,
 * simulations and private networks are judged like the internet.
 */
export function groupOfRemote(remote: string, netgroup?: string): string {
  const g = netgroup ?? netgroupOfRemote(remote);
  if (g !== 'local' && g !== 'unroutable') return g;
  const ip = ip16(ipOfRemote(remote));
  if (ip && isIpv4Mapped(ip)) return `${ip[12]}.${ip[13]}.0.0/16`;
  return g;
}

/** IPv4 /24 (`1.2.3.0/24`) or IPv6 /48 of a remote; undefined when not an IP. */
export function slash24OfRemote(remote: string): string | undefined {
  const ip = ip16(ipOfRemote(remote));
  if (!ip) return undefined;
  if (isIpv4Mapped(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.0/24`;
  const g = (i: number) => ((ip[i]! << 8) | ip[i + 1]!).toString(16);
  return `${g(0)}:${g(2)}:${g(4)}::/48`;
}

export function classifyText(text: string): IpClass | undefined {
  const ip = ip16(text);
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

  match(ipText: string): { cidr: string; label: L } | undefined {
    const ip = ip16(ipText);
    if (!ip) return undefined;
    for (const e of this.entries) if (cidrContains(e.cidr, ip)) return { cidr: e.cidr.text, label: e.label };
    return undefined;
  }

  get size(): number {
    return this.entries.length;
  }
}
