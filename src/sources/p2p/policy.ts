/**
 * What a well-behaved, modern peer that serves nothing says and accepts: our
 * version message, the feature messages each peer version understands, and how
 * each incoming message is treated, following Bitcoin Core's net_processing.cpp
 * (v30). Pure functions over the peer's handshake state: no sockets, no timers.
 *
 * The Core facts each rule follows are quoted in prose next to it.
 */
import { DecodeError } from '../../protocol/codec.js';
import {
  MIN_PEER_PROTO_VERSION,
  PROTOCOL_VERSION,
  SENDHEADERS_VERSION,
  SHORT_IDS_BLOCKS_VERSION,
  WTXID_RELAY_VERSION,
} from '../../protocol/limits.js';
import { INV_TYPE, type InvItem, type Message, type Version } from '../../protocol/messages/types.js';
import type { ConnDirection, ViolationAction, ViolationKind } from '../../events/types.js';

/** BIP144 NODE_WITNESS. */
export const NODE_WITNESS = 1n << 3n;

/**
 * The services we advertise: NODE_WITNESS only. We hold no blocks, so we must not
 * claim NODE_NETWORK (full chain) or NODE_NETWORK_LIMITED (the last 288 blocks):
 * a peer would pick us for block download and stall on us. NODE_WITNESS says we
 * speak the segwit serialization (we decode witness transactions), which is what
 * every current node expects and keeps us from standing out. No NODE_BLOOM, no
 * NODE_COMPACT_FILTERS (we have no filters). NODE_P2P_V2 is added when v2 is on
 * (`ourVersion`'s `v2`), as Core adds it with -v2transport (init.cpp).
 */
export const OUR_SERVICES = NODE_WITNESS;
/** BIP324: we accept v2 connections. */
export const NODE_P2P_V2 = 1n << 11n;

export const DEFAULT_USER_AGENT = '/peer-observer:0.1.0/';

/** BIP31: pings carry a nonce and are answered with pong above this version (Core: BIP0031_VERSION). */
export const BIP0031_VERSION = 60000;

export interface OurVersionInput {
  nonce: bigint;
  /** The peer's address as 16 bytes (IPv4-mapped for IPv4) and port. */
  peerIp: Uint8Array;
  peerPort: number;
  userAgent: string;
  nowMs: number;
  /** BIP324 v2 on: advertise NODE_P2P_V2 as well. */
  v2?: boolean;
}

/**
 * Our version message. Start height 0: we have no chain. relay = true because we
 * want to observe transaction announcements (we never relay any ourselves). The
 * sender address is empty, as Core sends it.
 */
export function ourVersion(input: OurVersionInput): Message {
  const services = input.v2 ? OUR_SERVICES | NODE_P2P_V2 : OUR_SERVICES;
  const payload: Version = {
    version: PROTOCOL_VERSION,
    services,
    timestamp: BigInt(Math.floor(input.nowMs / 1000)),
    receiver: { services: 0n, ip: input.peerIp, port: input.peerPort },
    sender: { services, ip: new Uint8Array(16), port: 0 },
    nonce: input.nonce,
    userAgent: input.userAgent,
    startHeight: 0,
    relay: true,
  };
  return { command: 'version', payload };
}

/**
 * What we send once the peer's version is accepted: the feature negotiation that
 * must come between version and verack, then verack. Core sends wtxidrelay and
 * sendaddrv2 only when the common version is at least 70016 (BIP155: "some
 * implementations reject messages they don't know").
 */
export function afterVersion(peerVersion: number): Message[] {
  const out: Message[] = [];
  const common = Math.min(peerVersion, PROTOCOL_VERSION);
  if (common >= WTXID_RELAY_VERSION) {
    out.push({ command: 'wtxidrelay', payload: {} });
    out.push({ command: 'sendaddrv2', payload: {} });
  }
  out.push({ command: 'verack', payload: {} });
  return out;
}

/**
 * What we send when the peer's verack completes the handshake, each only to a
 * version that knows it:
 * - sendheaders (>= 70012): announce blocks to us by headers; we never request
 *   them, but it is what every modern node says and costs nothing.
 * - sendcmpct announce=false, version 2 (>= 70014): as Core does on verack.
 * - feefilter (>= 70013): NOT sent. BIP133 makes it optional; it asks the peer
 *   not to announce transactions below a fee rate. We keep no mempool, so we have
 *   no floor to announce, and as an observer we want every announcement.
 * - getaddr, to outbound peers only, once (Core sends it only to outbound peers
 *   that take part in address relay; inbound getaddr would be a fingerprint).
 */
export function afterVerack(peerVersion: number, direction: ConnDirection): Message[] {
  const out: Message[] = [];
  const common = Math.min(peerVersion, PROTOCOL_VERSION);
  if (common >= SENDHEADERS_VERSION) out.push({ command: 'sendheaders', payload: {} });
  if (common >= SHORT_IDS_BLOCKS_VERSION) out.push({ command: 'sendcmpct', payload: { announce: false, version: 2n } });
  if (direction === 'outbound') out.push({ command: 'getaddr', payload: {} });
  return out;
}

export interface Verdict {
  kind: ViolationKind;
  action: ViolationAction;
  detail: string;
}

export interface HandshakeState {
  /** The peer's version message has been accepted. */
  versionReceived: boolean;
  /** The peer's verack arrived after its version: Core's fSuccessfullyConnected. */
  complete: boolean;
}

/**
 * Core's order in ProcessMessage, applied before a message is acted on:
 * - a second version: "redundant version message", ignored (no misbehaviour);
 * - anything before version: "non-version message before version handshake",
 *   ignored;
 * - verack, sendheaders, sendcmpct, wtxidrelay, sendaddrv2 (and sendtxrcncl)
 *   are processed between version and verack; anything else before verack is
 *   "Unsupported message prior to verack", ignored;
 * - wtxidrelay or sendaddrv2 after verack: disconnect (BIP339 / BIP155 say they
 *   must come between version and verack).
 * Returns the violation, or undefined when the message goes on to be handled.
 */
export function gate(state: HandshakeState, command: string): Verdict | undefined {
  if (command === 'version') {
    if (state.versionReceived) return { kind: 'duplicate-version', action: 'drop-message', detail: 'redundant version message' };
    return undefined;
  }
  if (!state.versionReceived) {
    return { kind: 'message-before-version', action: 'drop-message', detail: `${command} before version` };
  }
  if (command === 'wtxidrelay' || command === 'sendaddrv2') {
    if (state.complete) return { kind: 'feature-after-verack', action: 'disconnect', detail: `${command} received after verack` };
    return undefined;
  }
  if (PRE_VERACK_COMMANDS.has(command)) return undefined;
  if (!state.complete) return { kind: 'message-before-verack', action: 'drop-message', detail: `${command} before verack` };
  return undefined;
}

const PRE_VERACK_COMMANDS = new Set(['verack', 'sendheaders', 'sendcmpct', 'sendtxrcncl']);

/**
 * Core disconnects a peer that asks for a service we do not offer, before it
 * reads the payload:
 * - filterload / filteradd / filterclear without NODE_BLOOM ("received despite
 *   not offering bloom services");
 * - mempool without NODE_BLOOM ("mempool request with bloom filters disabled");
 * - getcfilters / getcfheaders / getcfcheckpt without NODE_COMPACT_FILTERS
 *   ("peer requested unsupported block filter type").
 */
export function serviceNotOffered(command: string): Verdict | undefined {
  if (BLOOM_COMMANDS.has(command)) {
    return { kind: 'service-not-offered', action: 'disconnect', detail: `${command} received despite not offering bloom services` };
  }
  if (CFILTER_COMMANDS.has(command)) {
    return { kind: 'service-not-offered', action: 'disconnect', detail: `${command}: we offer no compact block filters` };
  }
  return undefined;
}

const BLOOM_COMMANDS = new Set(['filterload', 'filteradd', 'filterclear', 'mempool']);
const CFILTER_COMMANDS = new Set(['getcfilters', 'getcfheaders', 'getcfcheckpt']);

/** Commands whose entry count above Core's named maximum is Misbehaving (addr 1000, inv/getdata 50,000, headers 2000). */
const MISBEHAVING_COUNT = new Set(['addr', 'addrv2', 'inv', 'getdata', 'headers']);
/** getheaders/getblocks with more than 101 locator entries: Core disconnects outright. */
const LOCATOR_COUNT = new Set(['getheaders', 'getblocks']);

/**
 * A payload that fails to decode. Core catches the deserialization exception in
 * ProcessMessages, logs it and drops the message, except where the handler
 * itself punishes:
 * - more entries than the named maximum in addr/addrv2 (1000), inv/getdata
 *   (50,000) or headers (2000) is Misbehaving, which disconnects the peer;
 *   Core never punishes a manually connected peer, so for our outbound peers
 *   (the operator's --connect targets, Core's -connect/-addnode) it only drops;
 * - a getheaders/getblocks locator over 101 entries disconnects any peer.
 * Service-gated commands (see serviceNotOffered) disconnect before decoding.
 */
export function malformed(command: string, error: unknown, direction: ConnDirection): Verdict {
  const detail = error instanceof DecodeError ? error.message : `decode failed: ${String(error)}`;
  const code = error instanceof DecodeError ? error.code : undefined;
  if (code === 'too-many-items' && MISBEHAVING_COUNT.has(command) && direction === 'inbound') {
    return { kind: 'malformed-payload', action: 'disconnect', detail: `${command}: ${detail} (misbehaving)` };
  }
  if (code === 'too-many-items' && LOCATOR_COUNT.has(command)) {
    return { kind: 'malformed-payload', action: 'disconnect', detail: `${command}: ${detail} (locator too large)` };
  }
  return { kind: 'malformed-payload', action: 'drop-message', detail: `${command}: ${detail}` };
}

/**
 * Bytes after a complete message: Core deserializes what it needs and ignores the
 * rest, so the message is processed; the extra bytes are recorded (a fingerprint,
 * or a smuggling attempt) with no action.
 */
export function trailingBytes(command: string, trailing: number): Verdict {
  return {
    kind: 'malformed-payload',
    action: 'none',
    detail: `${command}: ${trailing} trailing bytes ignored, as Bitcoin Core ignores them`,
  };
}

/** Version below Core's MIN_PEER_PROTO_VERSION: "peer using obsolete version", disconnect. */
export function obsolete(peerVersion: number): Verdict | undefined {
  if (peerVersion >= MIN_PEER_PROTO_VERSION) return undefined;
  return { kind: 'obsolete-version', action: 'disconnect', detail: `version ${peerVersion} < ${MIN_PEER_PROTO_VERSION}` };
}

const TX_TYPES: ReadonlySet<number> = new Set([INV_TYPE.tx, INV_TYPE.wtx, INV_TYPE.witnessTx]);

/**
 * Our answer to getdata: every transaction asked for is `notfound` (we keep no
 * mempool), as Core answers for transactions it does not have. Block requests are
 * left unanswered, as Core leaves requests for blocks it does not have: we never
 * pretend to serve blocks.
 */
export function answerGetdata(items: readonly InvItem[]): Message | undefined {
  const missing = items.filter((i) => TX_TYPES.has(i.type));
  if (missing.length === 0) return undefined;
  return { command: 'notfound', payload: { items: missing } };
}
