/**
 * Who makes room when the inbound slots are full, after Bitcoin Core's
 * node/eviction.cpp (SelectNodeToEvict and ProtectEvictionCandidatesByRatio,
 * called from net.cpp's AttemptToEvictConnection), plus our handshake-slot
 * budget. Pure functions over snapshots of the peers: no sockets, no timers,
 * no events. The observer (observer.ts) builds the snapshots, asks, and closes
 * the connection chosen.
 *
 * Core's idea: protect a few peers for each of several qualities an attacker
 * finds hard to forge at once (a netgroup we cannot predict, a low ping, useful
 * transactions, useful blocks, a long uptime, a disadvantaged network), then
 * evict the youngest connection of the netgroup holding the most connections.
 * To take our slots an attacker must beat the honest peers on all of them.
 *
 * Where Core leaves an order to std::sort (equal keys), we break ties by uptime
 * (the younger sorts first, so the older is protected) and then by id, so a
 * choice is reproducible.
 */
import { createHmac } from 'node:crypto';
import { classifyIp, ipFromString, netgroupOf } from '../../protocol/address.js';

/** Core's Network of the connection, as far as we can be connected through it (ConnectedThroughNetwork). */
export type CandidateNetwork = 'ipv4' | 'ipv6' | 'onion' | 'i2p' | 'cjdns';

/** One inbound peer as eviction sees it: Core's NodeEvictionCandidate, in milliseconds. */
export interface EvictionCandidate {
  id: number;
  /** When the connection opened (m_connected); any monotonic clock, larger is younger. */
  connectedMs: number;
  /** The lowest ping round trip seen (m_min_ping_time); Infinity before the first pong. */
  minPingMs: number;
  /** When the peer last sent us a block (m_last_block_time); 0: never. */
  lastBlockMs: number;
  /** When the peer last sent us a transaction (m_last_tx_time); 0: never. */
  lastTxMs: number;
  /** It offers the services we want from a peer (m_has_all_wanted_services). */
  relevantServices: boolean;
  /** It asked for transaction relay in its version (m_relays_txs). */
  relayTxs: boolean;
  /** It loaded a BIP37 bloom filter (m_bloom_filter_loaded). */
  bloomFilter: boolean;
  /** The netgroup under a secret key (nKeyedNetGroup): an attacker cannot tell which netgroups sort last. */
  keyedNetgroup: bigint;
  /** The netgroup itself, to report the choice. */
  netgroup: string;
  /** Evict such peers first (m_prefer_evict; Core: discouraged peers, ours: peers with a protocol violation). */
  preferEvict: boolean;
  /** A loopback peer (m_is_local). */
  isLocal: boolean;
  network: CandidateNetwork;
}

export interface EvictionChoice {
  id: number;
  netgroup: string;
  /** Connections of that netgroup still unprotected when it was chosen. */
  groupSize: number;
  /** Candidates before protection, and how many were protected. */
  candidates: number;
  protected: number;
}

type Less = (a: EvictionCandidate, b: EvictionCandidate) => boolean;

/** Core's strict-weak-order comparators as one sort order with our tie-break (younger first, then higher id). */
function sortBy(list: EvictionCandidate[], less: Less): void {
  list.sort((a, b) => {
    if (less(a, b)) return -1;
    if (less(b, a)) return 1;
    if (a.connectedMs !== b.connectedMs) return b.connectedMs - a.connectedMs;
    return b.id - a.id;
  });
}

/**
 * Core's EraseLastKElements: sort ascending, then drop (protect) those among
 * the last `k` that satisfy `predicate`. Keeps the sorted order of the rest.
 */
function eraseLastK(
  list: EvictionCandidate[],
  less: Less,
  k: number,
  predicate: (c: EvictionCandidate) => boolean = () => true,
): EvictionCandidate[] {
  sortBy(list, less);
  const from = list.length - Math.min(k, list.length);
  return [...list.slice(0, from), ...list.slice(from).filter((c) => !predicate(c))];
}

// eviction.cpp: ReverseCompareNodeMinPingTime
const reverseMinPingTime: Less = (a, b) => a.minPingMs > b.minPingMs;
// eviction.cpp: ReverseCompareNodeTimeConnected
const reverseTimeConnected: Less = (a, b) => a.connectedMs > b.connectedMs;
// eviction.cpp: CompareNetGroupKeyed
const netGroupKeyed: Less = (a, b) => a.keyedNetgroup < b.keyedNetgroup;

// eviction.cpp: CompareNodeBlockTime ("many peers have not yet relayed a block": fall through to services, uptime)
const nodeBlockTime: Less = (a, b) => {
  if (a.lastBlockMs !== b.lastBlockMs) return a.lastBlockMs < b.lastBlockMs;
  if (a.relevantServices !== b.relevantServices) return b.relevantServices;
  return a.connectedMs > b.connectedMs;
};

// eviction.cpp: CompareNodeTXTime (fall through to tx relay, no bloom filter, uptime)
const nodeTxTime: Less = (a, b) => {
  if (a.lastTxMs !== b.lastTxMs) return a.lastTxMs < b.lastTxMs;
  if (a.relayTxs !== b.relayTxs) return b.relayTxs;
  if (a.bloomFilter !== b.bloomFilter) return a.bloomFilter;
  return a.connectedMs > b.connectedMs;
};

// eviction.cpp: CompareNodeBlockRelayOnlyTime
const nodeBlockRelayOnlyTime: Less = (a, b) => {
  if (a.relayTxs !== b.relayTxs) return a.relayTxs;
  if (a.lastBlockMs !== b.lastBlockMs) return a.lastBlockMs < b.lastBlockMs;
  if (a.relevantServices !== b.relevantServices) return b.relevantServices;
  return a.connectedMs > b.connectedMs;
};

/** A disadvantaged network Core reserves protected slots for; `local` is loopback whatever the network. */
type Disadvantaged = { local: boolean; network: CandidateNetwork | undefined; count: number };
const inNet = (n: Disadvantaged) => (c: EvictionCandidate) => (n.local ? c.isLocal : c.network === n.network);

// eviction.cpp: CompareNodeNetworkTime (the network's peers sort last, then by uptime)
function networkTime(n: Disadvantaged): Less {
  return (a, b) => {
    if (n.local && a.isLocal !== b.isLocal) return b.isLocal;
    if ((a.network === n.network) !== (b.network === n.network)) return b.network === n.network;
    return a.connectedMs > b.connectedMs;
  };
}

/**
 * Core's ProtectEvictionCandidatesByRatio: protect half of the candidates by
 * uptime, reserving up to half of those (a quarter of all) for peers on
 * disadvantaged networks (CJDNS, I2P, localhost, Tor), which lose on ping
 * time. Returns the candidates left, sorted youngest first.
 */
export function protectEvictionCandidatesByRatio(candidates: readonly EvictionCandidate[]): EvictionCandidate[] {
  let list = [...candidates];
  const initialSize = list.length;
  const totalProtect = Math.floor(initialSize / 2);
  const networks: Disadvantaged[] = [
    { local: false, network: 'cjdns', count: 0 },
    { local: false, network: 'i2p', count: 0 },
    { local: true, network: undefined, count: 0 },
    { local: false, network: 'onion', count: 0 },
  ];
  for (const n of networks) n.count = list.filter(inNet(n)).length;
  // Fewer candidates first (stable: equal counts keep the order above), so they recover unused slots first.
  networks.sort((a, b) => a.count - b.count);
  const maxProtectByNetwork = Math.floor(totalProtect / 2);
  let numProtected = 0;
  while (numProtected < maxProtectByNetwork) {
    const numNetworks = networks.filter((n) => n.count > 0).length;
    if (numNetworks === 0) break;
    const perNetwork = Math.max(Math.floor((maxProtectByNetwork - numProtected) / numNetworks), 1);
    let protectedAny = false;
    for (const n of networks) {
      if (n.count === 0) continue;
      const before = list.length;
      list = eraseLastK(list, networkTime(n), perNetwork, inNet(n));
      const delta = before - list.length;
      if (delta > 0) {
        protectedAny = true;
        numProtected += delta;
        if (numProtected >= maxProtectByNetwork) break;
        n.count -= delta;
      }
    }
    if (!protectedAny) break;
  }
  // The rest of the half by uptime (this sort leaves the list youngest first).
  return eraseLastK(list, reverseTimeConnected, totalProtect - numProtected);
}

/**
 * Core's SelectNodeToEvict: the inbound peer to disconnect to make room for a
 * new one, or undefined when every candidate is protected (then Core drops the
 * new connection: AttemptToEvictConnection returns false). Pass inbound peers
 * only (Core: ProtectOutboundConnections); we have no noban permission
 * (ProtectNoBanConnections).
 */
export function selectNodeToEvict(candidates: readonly EvictionCandidate[]): EvictionChoice | undefined {
  let list = [...candidates];
  // Protect 4 by netgroup, keyed so an attacker cannot predict which netgroups.
  list = eraseLastK(list, netGroupKeyed, 4);
  // Protect the 8 with the lowest minimum ping: unforgeable without moving closer.
  list = eraseLastK(list, reverseMinPingTime, 8);
  // Protect the 4 that most recently sent transactions (Core: novel ones accepted to its mempool).
  list = eraseLastK(list, nodeTxTime, 4);
  // Protect up to 8 block-relay-only peers (no tx relay, the services we want) that sent blocks.
  list = eraseLastK(list, nodeBlockRelayOnlyTime, 8, (c) => !c.relayTxs && c.relevantServices);
  // Protect the 4 that most recently sent blocks.
  list = eraseLastK(list, nodeBlockTime, 4);
  // Half of the rest by uptime, part of it reserved for disadvantaged networks.
  list = protectEvictionCandidatesByRatio(list);
  if (list.length === 0) return undefined;

  // Core: "If any remaining peers are preferred for eviction consider only them."
  if (list.some((c) => c.preferEvict)) list = list.filter((c) => c.preferEvict);

  // The netgroup with the most connections, ties to the one whose youngest member is youngest
  // (the list is sorted youngest first, so each group's first member is its youngest).
  const groups = new Map<bigint, EvictionCandidate[]>();
  let most: bigint | undefined;
  let mostSize = 0;
  let mostTime = -Infinity;
  for (const c of list) {
    let group = groups.get(c.keyedNetgroup);
    if (!group) groups.set(c.keyedNetgroup, (group = []));
    group.push(c);
    const groupTime = group[0]!.connectedMs;
    if (group.length > mostSize || (group.length === mostSize && groupTime > mostTime)) {
      mostSize = group.length;
      mostTime = groupTime;
      most = c.keyedNetgroup;
    }
  }
  const victim = groups.get(most!)![0]!;
  return {
    id: victim.id,
    netgroup: victim.netgroup,
    groupSize: mostSize,
    candidates: candidates.length,
    protected: candidates.length - list.length,
  };
}

/** An inbound connection that has not completed its handshake. */
export interface PendingCandidate {
  id: number;
  connectedMs: number;
  /** A version message arrived (the peer is one round trip from done). */
  versionReceived: boolean;
  netgroup: string;
}

/**
 * A connection this young is never displaced by the handshake budget: it may
 * not have had a round trip to send its version yet. Without it, a burst of new
 * connections accepted in one go (a flood reconnecting) pushes out an honest
 * newcomer before its first bytes are read.
 */
export const HANDSHAKE_GRACE_MS = 1000;

/**
 * Our handshake-slot budget (Core has none: its slowloris defence is the 60 s
 * -peertimeout and the eviction above). When the budget of connections still
 * in their handshake is spent, a new connection displaces the least advanced:
 * among those older than `graceMs` (HANDSHAKE_GRACE_MS), the ones without a
 * version if there are any, then the netgroup with the most of them (ties: the
 * one holding the oldest), and there its oldest. An honest peer sends its
 * version within a round trip and finishes a round trip later, so a silent or
 * trickling connection always goes first, and an attacker from few netgroups
 * cannot push out a peer from another one. Undefined when every pending
 * connection is within its grace: then the budget is exceeded for a moment and
 * only the total limit (and Core's eviction) applies.
 */
export function selectPendingToEvict(
  pending: readonly PendingCandidate[],
  nowMs: number,
  graceMs = HANDSHAKE_GRACE_MS,
): PendingCandidate | undefined {
  const old = pending.filter((p) => nowMs - p.connectedMs >= graceMs);
  if (old.length === 0) return undefined;
  const silent = old.filter((p) => !p.versionReceived);
  const pool = silent.length > 0 ? silent : old;
  const groups = new Map<string, PendingCandidate[]>();
  for (const p of pool) {
    const group = groups.get(p.netgroup);
    if (group) group.push(p);
    else groups.set(p.netgroup, [p]);
  }
  let best: PendingCandidate[] | undefined;
  let bestOldest = Infinity;
  for (const group of groups.values()) {
    group.sort((a, b) => a.connectedMs - b.connectedMs || a.id - b.id);
    const oldest = group[0]!.connectedMs;
    if (!best || group.length > best.length || (group.length === best.length && oldest < bestOldest)) {
      best = group;
      bestOldest = oldest;
    }
  }
  return best![0];
}

/**
 * The netgroup eviction and the per-netgroup cap count by: Core's (IPv4 /16,
 * IPv6 /32, ...), except that loopback and private IPv4, which Core puts in one
 * `local` or `unroutable` group, are grouped by /16 too, so that loopback
 * simulations (127.x.y.z) and private networks are treated as the internet is.
 */
export function evictionNetgroup(ip: string): string {
  let group: string;
  try {
    group = netgroupOf(ip);
  } catch {
    return 'unknown';
  }
  if (group !== 'local' && group !== 'unroutable') return group;
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(ip);
  return m ? `${m[1]}.${m[2]}.0.0/16` : group;
}

/** Core's nKeyedNetGroup: the netgroup under a per-process secret (Core: a SipHash randomizer), 64 bits. */
export function keyedNetgroup(netgroup: string, key: Uint8Array): bigint {
  return createHmac('sha256', key).update(netgroup).digest().readBigUInt64LE(0);
}

/**
 * Core's ConnectedThroughNetwork and IsLocal() for a peer on our TCP listener:
 * IPv4 or IPv6 (we accept no Tor, I2P or CJDNS connections), local when
 * loopback (127.0.0.0/8, ::1).
 */
export function candidateNetworkOf(ip: string): { network: CandidateNetwork; isLocal: boolean } {
  try {
    const bytes = ipFromString(ip);
    const isV4 = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    return { network: isV4 ? 'ipv4' : 'ipv6', isLocal: classifyIp(bytes) === 'loopback' };
  } catch {
    return { network: 'ipv6', isLocal: false };
  }
}
