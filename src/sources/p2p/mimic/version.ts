/**
 * The mimic node's handshake: the version message laid out as Bitcoin Core lays
 * it out, with the backend's identity, and the messages Core sends around
 * verack, in Core's order.
 */
import { netgroupOf } from '../../../protocol/address.js';
import { SERVICES } from '../../../protocol/services.js';
import { SHORT_IDS_BLOCKS_VERSION, WTXID_RELAY_VERSION } from '../../../protocol/limits.js';
import type { Message, Version } from '../../../protocol/messages/types.js';
import type { BackendIdentity } from '../../backend/backend.js';

/** BIP152 compact block version Core announces (net_processing CMPCTBLOCKS_VERSION). */
export const CMPCTBLOCKS_VERSION = 2n;

/**
 * The services we advertise: the backend's localservices, with NODE_P2P_V2 only
 * when we speak BIP324 v2 ourselves (`v2`): a peer that tries v2 on our word
 * must get it.
 */
/** Core's CNetAddr::IsRoutable, through the netgroup (address.ts gives non-routable ones 'local' or 'unroutable'). */
function isRoutable(ip16: Uint8Array): boolean {
  try {
    const group = netgroupOf(ip16);
    return group !== 'local' && group !== 'unroutable';
  } catch {
    return false;
  }
}

export function advertisedServices(identity: BackendIdentity, v2: boolean): bigint {
  return v2 ? identity.services : identity.services & ~SERVICES.NODE_P2P_V2;
}

export interface MimicVersionInput {
  identity: BackendIdentity;
  v2: boolean;
  startHeight: number;
  nonce: bigint;
  peerIp: Uint8Array;
  peerPort: number;
  /** The services we know the peer has: 0 for inbound peers (Core's CAddress of an inbound connection has none). */
  peerServices: bigint;
  nowMs: number;
}

/**
 * net_processing PushNodeVersion: PROTOCOL_VERSION, our services, the time;
 * addrYou = the peer's services and address, or an empty address when the
 * peer's is not routable (loopback, private); addrMe = our services and an
 * empty address; the nonce; the user agent; m_best_height; the relay flag
 * (!RejectIncomingTxs: false for -blocksonly).
 */
export function mimicVersion(input: MimicVersionInput): Message {
  const services = advertisedServices(input.identity, input.v2);
  const routable = isRoutable(input.peerIp);
  const payload: Version = {
    version: input.identity.protocolVersion,
    services,
    timestamp: BigInt(Math.floor(input.nowMs / 1000)),
    receiver: { services: input.peerServices, ip: routable ? input.peerIp : new Uint8Array(16), port: routable ? input.peerPort : 0 },
    sender: { services, ip: new Uint8Array(16), port: 0 },
    nonce: input.nonce,
    userAgent: input.identity.subversion,
    startHeight: input.startHeight,
    relay: input.identity.relay,
  };
  return { command: 'version', payload };
}

/**
 * ProcessMessage(VERSION), after the peer's version is accepted: wtxidrelay
 * and sendaddrv2 when the common version is at least WTXID_RELAY_VERSION, then
 * verack (no sendtxrcncl: Core has txreconciliation off by default).
 */
export function mimicAfterVersion(commonVersion: number): Message[] {
  const out: Message[] = [];
  if (commonVersion >= WTXID_RELAY_VERSION) out.push({ command: 'wtxidrelay', payload: {} });
  if (commonVersion >= WTXID_RELAY_VERSION) out.push({ command: 'sendaddrv2', payload: {} });
  out.push({ command: 'verack', payload: {} });
  return out;
}

/**
 * ProcessMessage(VERACK): sendcmpct(high_bandwidth=false, CMPCTBLOCKS_VERSION)
 * when the common version is at least SHORT_IDS_BLOCKS_VERSION. What follows
 * (ping, getheaders, feefilter) is SendMessages' work (session.ts).
 */
export function mimicAfterVerack(commonVersion: number): Message[] {
  if (commonVersion < SHORT_IDS_BLOCKS_VERSION) return [];
  return [{ command: 'sendcmpct', payload: { announce: false, version: CMPCTBLOCKS_VERSION } }];
}
