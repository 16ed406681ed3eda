/**
 * The event schema: every source emits these, every consumer reads them.
 * Documented in docs/events.md; bump SCHEMA_VERSION on any incompatible change.
 *
 * Event data is JSON-safe by construction: 64-bit integers are decimal strings
 * (exact), byte strings are lowercase hex, hashes are hex in display order.
 */
import type { NetworkName } from '../protocol/networks.js';

export const SCHEMA_VERSION = 1;

/** Who opened the TCP connection. */
export type ConnDirection = 'inbound' | 'outbound';
/** A message we received (`in`) or sent (`out`). */
export type MsgDirection = 'in' | 'out';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Identifies one connection within one observer process. */
export interface ConnRef {
  /** Unique per observer process, increasing. */
  id: number;
  direction: ConnDirection;
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
  | 'connect-failed'; // an outbound connection never opened

export interface ConnectionOpened {
  conn: ConnRef;
  local: string;
  network: NetworkName;
  /** Bitcoin Core-style network group: IPv4 /16, IPv6 /32, ... */
  netgroup: string;
  transport: 'v1';
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
}

export interface MessageEvent {
  conn: ConnRef;
  dir: MsgDirection;
  command: string;
  /** Payload bytes (the 24-byte header excluded). */
  size: number;
  /** False for commands without a codec: their payload is kept raw (hex, bounded). */
  known: boolean;
  /**
   * The decoded payload, JSON-safe. Bulk messages (inv, headers, block, tx, ...)
   * carry counts and the first entries rather than everything; addr/addrv2 carry
   * every entry (at most 1000). See docs/events.md.
   */
  payload: JsonValue;
  /**
   * The payload exactly as received (base64), present when the source records raw
   * payloads (`--record-raw`); up to 4,000,000 bytes. Lets an archive be decoded
   * again by a newer codec, and keeps evidence byte for byte.
   */
  raw?: string;
}

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
  | 'service-not-offered';

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

export interface EventDataByType {
  'connection.opened': ConnectionOpened;
  'connection.closed': ConnectionClosed;
  message: MessageEvent;
  'handshake.version': HandshakeVersion;
  'handshake.complete': HandshakeComplete;
  'ping.latency': PingLatency;
  violation: ProtocolViolation;
  'pipeline.counters': PipelineCounters;
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
];

export interface EventEnvelope<T extends EventType = EventType> {
  v: typeof SCHEMA_VERSION;
  type: T;
  /** The observer that saw it. */
  nodeId: string;
  /** Microseconds since the Unix epoch (integer: sub-millisecond and exact in a double). */
  timeUs: number;
  /** Which source produced it (p2p, rpc, log, usdt, replay). */
  source: string;
  data: EventDataByType[T];
}

export type ObserverEvent = { [T in EventType]: EventEnvelope<T> }[EventType];
