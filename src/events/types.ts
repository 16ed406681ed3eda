/**
 * The event schema: every source emits these, every consumer reads them.
 * Documented in docs/events.md; bump SCHEMA_VERSION on any incompatible change.
 *
 * Event data is JSON-safe by construction: 64-bit integers are decimal strings
 * (exact), byte strings are lowercase hex, hashes are hex in display order.
 */
import type { NetworkName } from '../protocol/networks.js';
import type { MessageSummary } from './message-summary.js';
import type { NodeExtras, PeerExtras } from './node-extras.js';

export const SCHEMA_VERSION = 1;

/** Who opened the TCP connection. */
export type ConnDirection = 'inbound' | 'outbound';
/** A message we received (`in`) or sent (`out`). */
export type MsgDirection = 'in' | 'out';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Identifies one connection within one observer process. */
export interface ConnRef {
  /**
   * Unique per observer process and source, increasing. For the sources that
   * watch a Bitcoin Core node (rpc, log, usdt) it is Core's own peer id
   * (`getpeerinfo` `id`, `peer=N`), so one peer has the same id in all three.
   */
  id: number;
  /** `unknown` only when a Core source met the peer mid-session (e.g. a log followed from its middle). */
  direction: ConnDirection | 'unknown';
  /** Remote `ip:port` (IPv6 as `[addr]:port`). */
  remote: string;
}

export type CloseReason =
  | 'peer-closed' // the peer closed or reset the socket
  | 'protocol-violation' // we disconnected for a violation Core disconnects for
  | 'handshake-timeout'
  | 'ping-timeout'
  | 'limit' // per-IP or total connection limit
  | 'shutdown' // the observer is stopping
  | 'socket-error'
  | 'connect-failed' // an outbound connection never opened
  | 'evicted' // Bitcoin Core evicted the inbound peer to make room (usdt)
  | 'unknown'; // a Core source saw the peer go without a reason (rpc: vanished from getpeerinfo)

/**
 * Why the p2p source evicted an inbound peer (with reason `evicted`):
 * `inbound-full` — the inbound slots were full and Core's eviction rules chose it
 * to make room for a new peer; `handshake-slots` — the budget of connections still
 * in their handshake was spent and it was the least advanced (sources/p2p/eviction.ts).
 */
export type EvictionRule = 'inbound-full' | 'handshake-slots';

/**
 * Bitcoin Core's connection types (`getpeerinfo` `connection_type`, the log's
 * "New <type> peer connected", the tracepoints' conn_type): inbound,
 * outbound-full-relay, block-relay-only, manual, feeler, addr-fetch,
 * private-broadcast, ... Kept as text: Core adds types over time.
 */
export type CoreConnType = string;

/** `unknown` where the source cannot tell (usdt, a log without the "New ... peer connected" line). */
export type Transport = 'v1' | 'v2' | 'unknown';

export interface ConnectionOpened {
  conn: ConnRef;
  /** Our `ip:port` on this connection; '' when the source does not say (log, usdt). */
  local: string;
  network: NetworkName;
  /** Bitcoin Core-style network group: IPv4 /16, IPv6 /32, ... */
  netgroup: string;
  /** v1 or BIP324 v2; `unknown` where the source cannot tell. */
  transport: Transport;
  /** Core's connection type, from the Core sources. */
  connType?: CoreConnType;
}

export interface ConnectionClosed {
  conn: ConnRef;
  network: NetworkName;
  netgroup: string;
  reason: CloseReason;
  detail: string;
  durationMs: number;
  handshakeComplete: boolean;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Core's connection type, from the Core sources. */
  connType?: CoreConnType;
  /** With reason `evicted` from the p2p source: which of its rules chose this peer. */
  evictedFor?: EvictionRule;
  /** The p2p source: the transport the connection used, and for v2 its session id, peer garbage and decoys received. */
  transport?: Transport;
  sessionId?: string;
  garbageLength?: number;
  decoysIn?: number;
}

/** The fields of every message event; `command`, `known` and `payload` come from MessageSummary. */
export interface MessageEventBase {
  conn: ConnRef;
  dir: MsgDirection;
  /** Payload bytes (the 24-byte header excluded). */
  size: number;
  /**
   * The payload exactly as received (base64), present when the source records raw
   * payloads (`--record-raw`); up to 4,000,000 bytes. Lets an archive be decoded
   * again by a newer codec, and keeps evidence byte for byte.
   */
  raw?: string;
}

/**
 * A message: `command`, `known` (false for commands without a codec, whose
 * payload is kept raw, hex, bounded) and `payload`, the decoded payload's
 * JSON-safe summary, form a union keyed by command (message-summary.ts). Bulk
 * messages (inv, headers, block, tx, ...) carry counts and the first entries
 * rather than everything; addr/addrv2 carry every entry (at most 1000). See
 * docs/events.md.
 */
export type MessageEvent = MessageEventBase & MessageSummary;

/** Facts from the peer's version message. */
export interface HandshakeVersion {
  conn: ConnRef;
  version: number;
  /** u64 service bits, decimal. */
  services: string;
  serviceNames: string[];
  userAgent: string;
  startHeight: number | null;
  relay: boolean;
  /** u64, decimal. */
  nonce: string;
  /** Peer's clock minus ours, seconds. */
  timeOffsetSec: number;
  /** What the peer says our address is. */
  receiver: string;
  sender: string | null;
}

/** The handshake completed (verack both ways), with what was negotiated. */
export interface HandshakeComplete {
  conn: ConnRef;
  elapsedMs: number;
  wtxidRelay: boolean;
  addrV2: boolean;
  /**
   * From the log source ("receive version message" + "New <type> peer
   * connected"), which does not see the whole version message (no nonce, no
   * services), so it reports them here rather than as `handshake.version`.
   */
  version?: number;
  userAgent?: string;
  startHeight?: number;
  connType?: CoreConnType;
  transport?: Transport;
  /** BIP324 session id (hex), v2 connections of the p2p source. */
  sessionId?: string;
  garbageLength?: number;
}

export interface PingLatency {
  conn: ConnRef;
  /** u64, decimal. */
  nonce: string;
  latencyMs: number;
}

export type ViolationKind =
  // framing (see protocol/framing.ts)
  | 'v2-transport'
  | 'wrong-network'
  | 'bad-magic'
  | 'oversize'
  | 'bad-checksum'
  | 'invalid-command'
  // payload and sequence
  | 'malformed-payload'
  | 'message-before-version'
  | 'message-before-verack'
  | 'duplicate-version'
  | 'obsolete-version'
  | 'self-connection'
  | 'feature-after-verack'
  | 'handshake-timeout'
  | 'ping-timeout'
  | 'unsolicited-pong'
  // a request for a service we do not advertise (BIP37 bloom, mempool, BIP157 filters)
  | 'service-not-offered'
  // Bitcoin Core judged the peer misbehaving (log "Misbehaving: ...", usdt net:misbehaving_connection)
  | 'misbehaving'
  // BIP324 v2 transport (see protocol/v2/transport.ts)
  | 'v2-missing-garbage-terminator'
  | 'v2-oversize-packet'
  | 'v2-decryption-failure'
  | 'v1-after-v2'
  | 'v2-invalid-message-type'
  | 'v2-unknown-message-id';

export type ViolationAction = 'disconnect' | 'drop-message' | 'none';

export interface ProtocolViolation {
  conn: ConnRef;
  kind: ViolationKind;
  action: ViolationAction;
  detail: string;
  command?: string;
  /** Size claimed or carried, where known. */
  size?: number;
  /** The offending payload as received (base64), when the source records raw payloads and had one. */
  raw?: string;
}

/** Periodic counters from a pipeline stage: nothing is lost silently. */
export interface PipelineCounters {
  stage: string;
  counters: Record<string, number>;
}

/** Per-peer counters from Bitcoin Core (`getpeerinfo`), one event per peer per poll. */
export interface PeerStats {
  conn: ConnRef;
  connType: CoreConnType;
  transport: Transport;
  network: NetworkName;
  netgroup: string;
  /** Protocol version and user agent (attacker-controlled text); 0 and '' before the handshake. */
  version: number;
  userAgent: string;
  /** u64 service bits, decimal. */
  services: string;
  startHeight: number | null;
  syncedBlocks: number | null;
  /** Seconds since the epoch when Core accepted the connection. */
  connTime: number;
  timeOffsetSec: number;
  /** Last and best ping round trip, null when none yet. */
  pingMs: number | null;
  minPingMs: number | null;
  bytesIn: number;
  bytesOut: number;
  /** Bytes (headers included) per message command. */
  bytesInPerMsg: Record<string, number>;
  bytesOutPerMsg: Record<string, number>;
  /** Addresses Core processed from this peer's addr messages, and dropped by its rate limiter. Null on Core < 23. */
  addrProcessed: number | null;
  addrRateLimited: number | null;
  addrRelayEnabled: boolean | null;
  relayTxes: boolean | null;
  permissions: string[];
  /** What else Core reports about the peer (rpc, node-extras.ts). */
  extras?: PeerExtras;
}

/** Facts about the watched Bitcoin Core node, one event per RPC poll (fields null where the node did not answer). */
export interface NodeStatus {
  chain: string | null;
  blocks: number | null;
  headers: number | null;
  bestBlockHash: string | null;
  initialBlockDownload: boolean | null;
  verificationProgress: number | null;
  /** Chain tips that are not the active one (forks, invalid, headers-only). */
  staleTips: number | null;
  invalidTips: number | null;
  version: number | null;
  subversion: string | null;
  networkActive: boolean | null;
  connections: { total: number; inbound: number; outbound: number } | null;
  totalBytesIn: number | null;
  totalBytesOut: number | null;
  mempool: { size: number; bytes: number; usage: number; minFeeBtcPerKvB: number } | null;
  /** getaddrmaninfo all_networks; null on Core < 26. */
  addrman: { new: number; tried: number; total: number } | null;
  /** From getrawaddrman (Core >= 26, hidden RPC): the sources that put most addresses in addrman's new table. */
  addrmanTopSources: { source: string; count: number }[] | null;
  uptimeSec: number | null;
  banned: number | null;
  warnings: string[];
  /** Locked memory, orphanage, addrman by network and age, mempool detail (rpc, node-extras.ts). */
  extras?: NodeExtras;
}

export type RpcState = 'up' | 'down' | 'warming-up' | 'auth-failed' | 'error';

/** The RPC source's view of the node's RPC interface; emitted on every state change. */
export interface RpcStatus {
  state: RpcState;
  /** The RPC URL without credentials. */
  url: string;
  /** The error (or 'ok'), as a sentence. */
  detail: string;
  /** Failed polls in a row. */
  failures: number;
  /** Milliseconds until the next attempt. */
  retryMs: number;
  /** RPC methods the node does not have (-32601), skipped from now on. */
  unsupported: string[];
}

/** Core's "Received addr: N addresses (P processed, R rate-limited) from peer=X" (log). */
export interface AddrReceived {
  conn: ConnRef;
  addresses: number;
  processed: number;
  rateLimited: number;
}

/** A block connected to the active chain (log BlockConnected/UpdateTip, usdt validation:block_connected). */
export interface BlockConnected {
  /** Display order. */
  hash: string;
  height: number;
  /** Null where the source does not say. */
  transactions: number | null;
  inputs: number | null;
  sigops: number | null;
  durationMs: number | null;
}

export type MempoolAction = 'accepted' | 'rejected' | 'removed' | 'replaced';

/** A transaction entering, failing to enter or leaving Core's mempool (log, usdt). */
export interface MempoolTx {
  action: MempoolAction;
  /** Display order. */
  txid: string;
  wtxid: string | null;
  vsize: number | null;
  /** Fee in satoshis (decimal string), null when not said. */
  feeSat: string | null;
  /** Rejection or removal reason as Core says it ('block', 'replaced', 'expiry', 'txn-mempool-conflict', ...). */
  reason: string | null;
  /** Core peer id that sent it, where known. */
  peerId: number | null;
  /** For 'replaced': the transaction that replaced it. */
  replacedBy: string | null;
  /** For 'replaced', where the source says (usdt): the replacement's vsize and fee (satoshis, decimal). */
  replacement?: { vsize: number | null; feeSat: string | null };
}

/**
 * The connectivity check tried an address a peer advertised in addr/addrv2
 * (feeds the fake-address detector). Addresses it refuses to try (private,
 * reserved, ...) are reported with `reachable: false` and reason `not-tried`.
 */
export interface ConnectivityResult {
  /** The advertised address: `ip:port`, `[v6]:port`. */
  addr: string;
  /** `conn.remote` of the peer that advertised it. */
  sourcePeer: string;
  reachable: boolean;
  /** `version` (a node answered the handshake), `refused`, `timeout`, `reset`, `not-bitcoin`, `not-tried`, `error`, ... */
  reason: string;
  /** Time to the answer (or the failure), null when not tried. */
  latencyMs: number | null;
  /** What happened, as a sentence (consumers/connectivity): `not-tried` says which class of address was refused. */
  detail?: string;
  /** The user agent the node answered with (attacker-controlled text), when it sent a version. */
  userAgent?: string;
}

/** One source peer's line in `connectivity.summary`. */
export interface ConnectivitySource {
  /** `conn.remote` of the advertising peer. */
  sourcePeer: string;
  /** The observer that saw it advertise. */
  nodeId: string;
  /** Entries it advertised (every addr/addrv2 entry, repeats included). */
  advertised: number;
  /** Of those, results that were tried (its own probes and cache hits). */
  tried: number;
  reachable: number;
  /** reachable / tried, null before anything was tried. */
  reachableShare: number | null;
  /** Not tried by policy (private, reserved, ...). */
  notTried: number;
}

/** Periodic totals of the connectivity check (every 10 s and at the end). */
export interface ConnectivitySummary {
  /** addr/addrv2 entries seen. */
  advertised: number;
  /** Results for tried addresses (probes and cache hits). */
  tried: number;
  reachable: number;
  /** reachable / tried, null before anything was tried. */
  reachableShare: number | null;
  /** Probes actually made (TCP connections attempted). */
  probes: number;
  /** Refused by policy, by class (`private`, `loopback`, `reserved`, ...): never dialled. */
  notTried: Record<string, number>;
  /** Tor, I2P and CJDNS addresses: skipped (no proxy support yet), by network. */
  skipped: Record<string, number>;
  /** Answered from the result cache. */
  cacheHits: number;
  /** Already queued or in flight for another source. */
  coalesced: number;
  /** Dropped because the queue was full. */
  dropped: number;
  queued: number;
  inFlight: number;
  cacheSize: number;
  /** The source peers with the most tried results (at most 20). */
  sources: ConnectivitySource[];
}

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];
export type AlertStatus = 'active' | 'resolved';
export type AlertSubjectKind = 'peer' | 'netgroup' | 'asn' | 'node' | 'network';

/** What an alert is about: a peer (`ip:port` or `ip`), a netgroup, an ASN (`AS54098`), an observer node, or the whole network. */
export interface AlertSubject {
  kind: AlertSubjectKind;
  id: string;
}

export interface AlertEvidence {
  /** Named counts (e.g. `addrEntries`, `tokensDebt`, `connections`). */
  counts: Record<string, number>;
  /** A bounded number (at most 10) of sample messages, addresses or connections, attacker-controlled text included. */
  samples: JsonValue[];
}

/** An alert's state, published as an `alert` event on every raise, (rate-limited) update and resolve. */
export interface Alert {
  id: string;
  /** The detector's name (`addr-flood`, `ping-spam`, ...). */
  detector: string;
  severity: Severity;
  subject: AlertSubject;
  /** One sentence (may quote attacker-controlled text: escape before display). */
  summary: string;
  firstSeenUs: number;
  lastSeenUs: number;
  status: AlertStatus;
  resolvedUs?: number;
  /** The observers whose events triggered it. */
  nodeIds: string[];
  /** Signals merged into this alert. */
  count: number;
  evidence: AlertEvidence;
  /** The netgroup of the subject, where known: used to group alerts into incidents. */
  netgroup?: string;
  incidentId: string;
}

/** Related alerts (same subject or netgroup within a window, or one source seen by several observers). */
export interface Incident {
  id: string;
  title: string;
  /** The highest severity of its alerts. */
  severity: Severity;
  /** Resolved when all its alerts are. */
  status: AlertStatus;
  firstSeenUs: number;
  lastSeenUs: number;
  resolvedUs?: number;
  alertIds: string[];
  subjects: AlertSubject[];
  netgroups: string[];
  detectors: string[];
  nodeIds: string[];
}

export interface EventDataByType {
  'connection.opened': ConnectionOpened;
  'connection.closed': ConnectionClosed;
  message: MessageEvent;
  'handshake.version': HandshakeVersion;
  'handshake.complete': HandshakeComplete;
  'ping.latency': PingLatency;
  violation: ProtocolViolation;
  'pipeline.counters': PipelineCounters;
  'peer.stats': PeerStats;
  'node.status': NodeStatus;
  'rpc.status': RpcStatus;
  'addr.received': AddrReceived;
  'block.connected': BlockConnected;
  'mempool.tx': MempoolTx;
  alert: Alert;
  incident: Incident;
  'connectivity.result': ConnectivityResult;
  'connectivity.summary': ConnectivitySummary;
}

export type EventType = keyof EventDataByType;

export const EVENT_TYPES: readonly EventType[] = [
  'connection.opened',
  'connection.closed',
  'message',
  'handshake.version',
  'handshake.complete',
  'ping.latency',
  'violation',
  'pipeline.counters',
  'peer.stats',
  'node.status',
  'rpc.status',
  'addr.received',
  'block.connected',
  'mempool.tx',
  'alert',
  'incident',
  'connectivity.result',
  'connectivity.summary',
];

export interface EventEnvelope<T extends EventType = EventType> {
  v: typeof SCHEMA_VERSION;
  type: T;
  /** The observer that saw it. */
  nodeId: string;
  /** Microseconds since the Unix epoch (integer: sub-millisecond and exact in a double). */
  timeUs: number;
  /** Which source produced it (p2p, rpc, log, usdt, replay, bus). */
  source: string;
  data: EventDataByType[T];
}

export type ObserverEvent = { [T in EventType]: EventEnvelope<T> }[EventType];
