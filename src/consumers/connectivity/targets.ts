/**
 * Which advertised addresses the connectivity check may dial. An attacker
 * chooses every address in an addr message, so by default only public
 * (routable) IPv4 and IPv6 are tried: private (RFC 1918, fc00::/7), loopback,
 * link-local, reserved (documentation, benchmarking, CGNAT 100.64/10, 0/8,
 * 240/4, ...), multicast and unspecified addresses are refused, so that nobody
 * can make us scan a private network. `allowLoopback` (tests only) permits
 * 127.0.0.0/8 and ::1. Tor, I2P and CJDNS addresses are skipped: we have no
 * proxy support yet.
 */
import { classifyIp, ipFromString, type IpClass } from '../../protocol/address.js';

export type TargetVerdict =
  | { kind: 'dial'; host: string }
  | { kind: 'refused'; class: Exclude<IpClass, 'routable'> }
  | { kind: 'skipped'; network: 'torv3' | 'torv2' | 'i2p' | 'cjdns' | 'other' };

export interface TargetPolicy {
  allowLoopback: boolean;
}

/**
 * `addr` is as a message summary writes it (src/events/summary.ts): IP text,
 * `x.onion`, `x.b32.i2p`, or `net<id>:<hex>`; `network` is the addrv2 network
 * name when the entry came from addrv2 (`cjdns` addresses look like IPv6).
 */
export function judgeTarget(addr: string, network: string | undefined, policy: TargetPolicy): TargetVerdict {
  const lower = addr.toLowerCase();
  if (network === 'cjdns') return { kind: 'skipped', network: 'cjdns' };
  if (network === 'torv3' || (lower.endsWith('.onion') && lower.length > 30)) return { kind: 'skipped', network: 'torv3' };
  if (network === 'torv2' || lower.endsWith('.onion')) return { kind: 'skipped', network: 'torv2' };
  if (network === 'i2p' || lower.endsWith('.i2p')) return { kind: 'skipped', network: 'i2p' };
  let ip: Uint8Array;
  try {
    ip = ipFromString(addr);
  } catch {
    return { kind: 'skipped', network: 'other' };
  }
  const cls = classifyIp(ip);
  if (cls === 'routable') return { kind: 'dial', host: addr };
  if (cls === 'loopback' && policy.allowLoopback) return { kind: 'dial', host: addr };
  return { kind: 'refused', class: cls };
}
