/**
 * The backend's known addresses (getnodeaddresses) as the addr or addrv2 message
 * Core sends in answer to getaddr. Core keeps every network in the answer
 * (CConnman::GetAddresses with no network filter) and drops, per peer, what the
 * peer's message cannot carry (net_processing IsAddrCompatible): a peer that sent
 * sendaddrv2 gets all of IPv4, IPv6, Tor v3, I2P and CJDNS in addrv2; any other
 * peer gets the IPv4 and IPv6 ones in addr (CNetAddr::IsAddrV1Compatible).
 */
import { base32Decode, ipFromString, torV3FromString } from '../../../protocol/address.js';
import { ADDRV2_NETWORK, type Message } from '../../../protocol/messages/types.js';
import type { NodeAddress } from '../../backend/backend.js';

/** One address in BIP155 form, or undefined when it cannot be encoded (an unknown network, a bad name). */
export function addrV2Of(a: NodeAddress): { networkId: number; addr: Uint8Array } | undefined {
  try {
    switch (a.network) {
      case 'onion':
        return { networkId: ADDRV2_NETWORK.torv3, addr: torV3FromString(a.address) };
      case 'i2p': {
        const m = /^([a-z2-7]{52})\.b32\.i2p$/i.exec(a.address);
        const key = m ? base32Decode(m[1]!) : undefined;
        return key && key.length === 32 ? { networkId: ADDRV2_NETWORK.i2p, addr: key } : undefined;
      }
      case 'cjdns': {
        const ip = ipFromString(a.address);
        return ip[0] === 0xfc ? { networkId: ADDRV2_NETWORK.cjdns, addr: ip } : undefined;
      }
      case 'ipv4':
      case 'ipv6':
      case '': {
        const ip = ipFromString(a.address);
        const v4 = ip.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff));
        return v4 ? { networkId: ADDRV2_NETWORK.ipv4, addr: ip.slice(12) } : { networkId: ADDRV2_NETWORK.ipv6, addr: ip };
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** addr (v1): IPv4 and IPv6 only (IsAddrV1Compatible; CJDNS is not, though it looks like IPv6). */
export function toAddr(list: readonly NodeAddress[]): Extract<Message, { command: 'addr' }> {
  const entries = [];
  for (const a of list) {
    const v2 = addrV2Of(a);
    if (!v2 || (v2.networkId !== ADDRV2_NETWORK.ipv4 && v2.networkId !== ADDRV2_NETWORK.ipv6)) continue;
    entries.push({ time: a.time, services: a.services, ip: ipFromString(a.address), port: a.port });
  }
  return { command: 'addr', payload: { entries } };
}

/** addrv2 (BIP155): every network Core knows. */
export function toAddrV2(list: readonly NodeAddress[]): Extract<Message, { command: 'addrv2' }> {
  const entries = [];
  for (const a of list) {
    const v2 = addrV2Of(a);
    if (v2) entries.push({ time: a.time, services: a.services, networkId: v2.networkId, addr: v2.addr, port: a.port });
  }
  return { command: 'addrv2', payload: { entries } };
}
