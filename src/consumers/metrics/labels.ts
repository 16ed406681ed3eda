/**
 * Bounded label values. Everything a peer controls (commands, user agents,
 * addresses) reaches a label only through these, so the number of series is
 * fixed by our code, never by what peers send: no per-IP or per-peer labels.
 */
import type { AddrEntry } from '../../events/message-summary.js';
import { KNOWN_COMMANDS } from '../../protocol/messages/index.js';
import { invTypeName } from '../../protocol/messages/inventory.js';
import { SERVICES } from '../../protocol/services.js';

export const OTHER = 'other';

const COMMANDS: ReadonlySet<string> = new Set(KNOWN_COMMANDS);
/** A known command keeps its name; any other command (unknown, invalid) is `other`. */
export function commandLabel(command: string): string {
  return COMMANDS.has(command) ? command : OTHER;
}

const INV_TYPES: ReadonlySet<string> = new Set(
  [0, 1, 2, 3, 4, 5, 0x40000001, 0x40000002, 0x40000003].map(invTypeName).filter((n) => !/^\d|^type/.test(n)),
);
export function invTypeLabel(name: string): string {
  return INV_TYPES.has(name) ? name : OTHER;
}

export const SERVICE_BITS: readonly (readonly [string, bigint])[] = Object.entries(SERVICES);
const SERVICE_NAMES: ReadonlySet<string> = new Set(Object.keys(SERVICES));
/** A known service bit by name; any other set bit is `unknown`. */
export function serviceLabel(name: string): string {
  return SERVICE_NAMES.has(name) ? name : 'unknown';
}

/**
 * The kind of network an address is on, from its text: `ipv4`, `ipv6`, `onion`,
 * `i2p`, `cjdns` (fc00::/8). Bounded by construction.
 */
export function addressNetwork(remote: string): string {
  const lower = remote.toLowerCase();
  if (lower.includes('.onion')) return 'onion';
  if (lower.includes('.i2p')) return 'i2p';
  if (lower.startsWith('[') || lower.split(':').length > 2) {
    const host = lower.startsWith('[') ? lower.slice(1, lower.indexOf(']')) : lower;
    if (/^::ffff:\d+\.\d+\.\d+\.\d+$/.test(host)) return 'ipv4';
    return /^fc[0-9a-f]{2}:/.test(host) ? 'cjdns' : 'ipv6';
  }
  return 'ipv4';
}

/** addrv2 network names (summary.ts) as a bounded label. */
const ADDR_NETWORKS: ReadonlySet<string> = new Set(['ipv4', 'ipv6', 'torv2', 'torv3', 'i2p', 'cjdns']);
export function addrNetworkLabel(name: string): string {
  return ADDR_NETWORKS.has(name) ? name : OTHER;
}

/** An addr/addrv2 entry's network as a label: addrv2 names it (addrNetworkLabel); an addr entry is IPv4 or IPv6 by its text. */
export function addrEntryNetwork(entry: AddrEntry): string {
  return 'network' in entry ? addrNetworkLabel(entry.network) : entry.addr.includes(':') ? 'ipv6' : 'ipv4';
}

/**
 * A label for values we do not know in advance but expect few of (detector
 * names, pipeline stages and counter names): the first `max` distinct values
 * keep their text, later ones are `other`. Values are cut to 64 characters.
 */
export class AdmittedLabels {
  private readonly admitted = new Set<string>();
  constructor(private readonly max: number) {}

  label(value: string): string {
    const v = value.length > 64 ? value.slice(0, 64) : value;
    if (this.admitted.has(v)) return v;
    if (this.admitted.size >= this.max) return OTHER;
    this.admitted.add(v);
    return v;
  }
}

/** A user agent as a label value: printable ASCII, at most 64 characters (an attacker chooses it). */
export function userAgentText(ua: string): string {
  const printable = ua.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 64 ? `${printable.slice(0, 61)}...` : printable === '' ? '(empty)' : printable;
}
