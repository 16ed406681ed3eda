/**
 * One captured TCP connection as the observer would have recorded it. The
 * listening side (the server) is "us": the connection is `inbound`, what the
 * client sent is `in`, what the server sent is `out` — the view of the node the
 * capture was taken beside. Each direction's reassembled bytes go through a
 * FrameDecoder (v2 detection on the client's side, as for a live inbound peer)
 * and decodeMessage; the events are those the live p2p source emits for what it
 * observes (connection.opened/closed, message, violation, handshake.version,
 * handshake.complete, ping.latency), timed by the capture.
 *
 * Violations are about the peer: the client's framing and payload errors become
 * violation events; the server's are counted (`serverViolations`) only.
 * After a gap (bytes the capture lost) or when the capture starts mid-stream, the
 * decoder resynchronises on the next plausible header (magic, valid command,
 * length within the maximum); the bytes skipped are counted.
 *
 * BIP324 v2 flows are told from v1 by the client's first bytes exactly as Core
 * tells them (V2Transport::ProcessReceivedMaybeV1Bytes): v1 when the first 16
 * are our magic + "version", v2 at the first byte that differs. A v2 flow cannot
 * be decrypted from a capture: it is opened and closed as `transport: 'v2'` with
 * its byte counts, and none of its bytes (keys, garbage, packets) go to the v1
 * decoder. connection.opened is emitted when the transport is known (or at the
 * close, `unknown`, when it never was), as the live observer does.
 */
import { makeEvent, type EventOrigin } from '../../events/envelope.js';
import { messageSummary } from '../../events/summary.js';
import type { CloseReason, ConnRef, EventDataByType, EventType, ObserverEvent } from '../../events/types.js';
import { FrameDecoder, HEADER_SIZE, readCommand, type DecodedItem } from '../../protocol/framing.js';
import { MAX_PROTOCOL_MESSAGE_LENGTH } from '../../protocol/limits.js';
import { decodeMessage, isKnown } from '../../protocol/messages/index.js';
import type { KnownMessage } from '../../protocol/messages/types.js';
import { NETWORKS, type Network } from '../../protocol/networks.js';
import { serviceNames } from '../../protocol/services.js';
import { endpointOfBytes, formatEndpoint, ipToString } from '../../protocol/address.js';
import { toBase64 } from '../../protocol/hash.js';
import { malformed } from '../p2p/policy.js';
import { StreamReassembler, type ReorderLimits, type StreamChunk } from './reassembly.js';

export interface FlowContext {
  network: Network;
  origin: EventOrigin;
  recordRaw: boolean;
  reorder: ReorderLimits;
  counters: FlowCounters;
}

/** Counters a flow adds to as it goes (the replay's stats). */
export interface FlowCounters {
  messages: number;
  violations: number;
  /** Framing or payload errors in what the server sent (not reported as violations). */
  serverViolations: number;
  /** Bytes skipped looking for a header after a gap or a mid-stream start. */
  resyncSkippedBytes: number;
  /** Bytes after a fatal framing error (the decoder takes no more). */
  bytesAfterFatal: number;
  /** Flows recognised as BIP324 v2, and their bytes (both directions; encrypted, not decoded). */
  v2Flows: number;
  v2Bytes: number;
}

/** The first 4 bytes are some network's magic (as framed: big-endian). */
function isNetworkMagic(b: Uint8Array): boolean {
  const magic = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  return Object.values(NETWORKS).some((n) => n.magic === magic);
}

/** Bytes that tell v1 from v2: magic + "version" NUL-padded (Core's V1_PREFIX_LEN). */
const V1_PREFIX_LEN = 16;

/** Pings of ours (the server's) awaiting a pong, per flow. */
const MAX_OUTSTANDING_PINGS = 16;

class Side {
  readonly reasm: StreamReassembler;
  decoder: FrameDecoder;
  syncing: boolean;
  /** Up to HEADER_SIZE - 1 bytes kept across chunks while looking for a header. */
  carry: Uint8Array = new Uint8Array(0);
  bytes = 0;
  frames = 0;
  fatal = false;

  constructor(
    readonly endpoint: string,
    private readonly network: Network,
    private readonly detectV2: boolean,
    reorder: ReorderLimits,
  ) {
    this.reasm = new StreamReassembler(reorder);
    this.decoder = new FrameDecoder({ network, detectV2 });
    this.syncing = false;
  }

  /** Start over on the next plausible header (after a gap, or mid-stream). */
  resync(): void {
    if (this.fatal) return;
    this.decoder = new FrameDecoder({ network: this.network, detectV2: false });
    this.syncing = true;
    this.carry = new Uint8Array(0);
  }

  /** Bytes held by this side: reorder buffer and partial frame. */
  get buffered(): number {
    return this.reasm.bufferedBytes + this.decoder.allocated + this.carry.length;
  }

  /** Feed stream bytes; returns decoded items and the number of bytes skipped while resyncing. */
  push(bytes: Uint8Array): { items: DecodedItem[]; skipped: number } {
    if (!this.syncing) return { items: this.decoder.push(bytes), skipped: 0 };
    let joined = bytes;
    if (this.carry.length > 0) {
      joined = new Uint8Array(this.carry.length + bytes.length);
      joined.set(this.carry);
      joined.set(bytes, this.carry.length);
    }
    const at = findHeader(joined, this.network.magic);
    if (at < 0) {
      // A header may start in the last 23 bytes: keep them, the rest is skipped.
      const keep = Math.min(joined.length, HEADER_SIZE - 1);
      this.carry = joined.slice(joined.length - keep);
      return { items: [], skipped: joined.length - keep };
    }
    this.syncing = false;
    this.carry = new Uint8Array(0);
    return { items: this.decoder.push(joined.subarray(at)), skipped: at };
  }
}

/** The first offset where a plausible v1 header starts, or -1. */
export function findHeader(bytes: Uint8Array, magic: number): number {
  const m0 = magic >>> 24;
  for (let i = 0; i + HEADER_SIZE <= bytes.length; i++) {
    if (bytes[i] !== m0) continue;
    const word = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    if (word !== magic) continue;
    if (!readCommand(bytes, i + 4).valid) continue;
    const length = (bytes[i + 16]! | (bytes[i + 17]! << 8) | (bytes[i + 18]! << 16) | (bytes[i + 19]! << 24)) >>> 0;
    if (length <= MAX_PROTOCOL_MESSAGE_LENGTH) return i;
  }
  return -1;
}

export interface FlowEndpoints {
  clientIp: Uint8Array;
  clientPort: number;
  serverIp: Uint8Array;
  serverPort: number;
}

export class Flow {
  readonly conn: ConnRef;
  readonly netgroup: string;
  readonly client: Side;
  readonly server: Side;
  lastUs: number;
  closed = false;
  private peerVersion: number | undefined;
  private complete = false;
  private wtxidRelay = false;
  private addrV2 = false;
  private readonly pings = new Map<bigint, number>();
  private fatalDetail: string | undefined;
  /** v1, v2, or undefined while the client's first bytes are still coming. */
  private transport: 'v1' | 'v2' | undefined;
  private readonly v1Prefix: Uint8Array;
  private readonly held: Uint8Array = new Uint8Array(V1_PREFIX_LEN);
  private heldFill = 0;
  /** The client's first bytes already differ from our magic: v1 of another network, or v2 (decided at 4 bytes). */
  private magicDiffers = false;
  private readonly local: string;

  constructor(
    private readonly ctx: FlowContext,
    id: number,
    ends: FlowEndpoints,
    netgroup: string,
    readonly openedUs: number,
    _out: ObserverEvent[], // connection.opened waits for the transport (see settle)
  ) {
    const clientText = formatEndpoint(ipToString(ends.clientIp), ends.clientPort);
    const serverText = formatEndpoint(ipToString(ends.serverIp), ends.serverPort);
    this.conn = { id, direction: 'inbound', remote: clientText };
    this.netgroup = netgroup;
    this.client = new Side(clientText, ctx.network, true, ctx.reorder);
    this.server = new Side(serverText, ctx.network, false, ctx.reorder);
    this.lastUs = openedUs;
    this.local = serverText;
    this.v1Prefix = new Uint8Array(V1_PREFIX_LEN);
    new DataView(this.v1Prefix.buffer).setUint32(0, ctx.network.magic, false);
    this.v1Prefix.set(new TextEncoder().encode('version'), 4);
  }

  /**
   * connection.opened, once, when the transport is known (v1 or v2) or at the
   * close (unknown); timed at the connection's start (its SYN) like every flow's.
   */
  private settle(transport: 'v1' | 'v2' | 'unknown', _timeUs: number, out: ObserverEvent[]): void {
    if (this.transport !== undefined) return;
    this.transport = transport === 'unknown' ? 'v1' : transport;
    if (transport === 'v2') this.ctx.counters.v2Flows++;
    this.emit(out, 'connection.opened', this.openedUs, {
      conn: this.conn,
      local: this.local,
      network: this.ctx.network.name,
      netgroup: this.netgroup,
      transport,
    });
  }

  /**
   * The client's first bytes, before the transport is known: held (at most 16)
   * until they match the v1 prefix (v1: they go to the decoder) or one differs (v2).
   */
  private detect(bytes: Uint8Array, timeUs: number, out: ObserverEvent[]): Uint8Array | undefined {
    let i = 0;
    for (; i < bytes.length && this.heldFill < V1_PREFIX_LEN; i++) {
      const b = bytes[i]!;
      this.held[this.heldFill++] = b;
      if (!this.magicDiffers && b === this.v1Prefix[this.heldFill - 1]) continue;
      if (this.heldFill > 4) {
        this.settle('v2', timeUs, out);
        return undefined;
      }
      // A capture, unlike a listening node, also sees v1 traffic of other networks (or a replay with the
      // wrong --network): their magic is no v2 key. It goes to the decoder, which reports wrong-network.
      this.magicDiffers = true;
      if (this.heldFill < 4) continue;
      if (!isNetworkMagic(this.held)) {
        this.settle('v2', timeUs, out);
        return undefined;
      }
      i++;
      break;
    }
    if (this.heldFill < V1_PREFIX_LEN && !(this.magicDiffers && this.heldFill === 4)) return undefined;
    this.settle('v1', timeUs, out);
    const all = new Uint8Array(this.heldFill + bytes.length - i);
    all.set(this.held.subarray(0, this.heldFill));
    all.set(bytes.subarray(i), this.heldFill);
    return all;
  }

  /** Bytes this flow holds (reorder buffers and partial frames). */
  get buffered(): number {
    return this.client.buffered + this.server.buffered;
  }

  /** One TCP segment of one side (`seq` of its first payload byte). */
  segment(
    side: Side,
    seq: number,
    length: number,
    payload: Uint8Array | undefined,
    fin: boolean,
    timeUs: number,
    out: ObserverEvent[],
  ): void {
    const started = side.reasm.started;
    const chunks = side.reasm.segment(seq, length, payload, fin);
    // No SYN: the first byte seen is somewhere inside a frame, most likely (and the transport cannot be told: v1 resync).
    if (!started && side.reasm.midStream) {
      side.resync();
      if (side === this.client) this.settle('v1', timeUs, out);
    }
    this.chunks(side, chunks, timeUs, out);
  }

  /** Reassembled chunks of one side, in stream order. */
  chunks(side: Side, chunks: StreamChunk[], timeUs: number, out: ObserverEvent[]): void {
    for (const c of chunks) {
      if (c.type === 'gap') {
        side.resync();
        if (side === this.client && this.transport === undefined) this.settle('v1', timeUs, out);
        continue;
      }
      side.bytes += c.bytes.length;
      let bytes: Uint8Array | undefined = c.bytes;
      if (side === this.client && this.transport === undefined) bytes = this.detect(c.bytes, timeUs, out);
      if (this.transport === 'v2') {
        // Encrypted: counted, never decoded (no garbage decoded as v1).
        this.ctx.counters.v2Bytes += c.bytes.length;
        continue;
      }
      if (bytes === undefined) continue; // the client's first bytes, held until v1 or v2 is clear
      if (side.fatal) {
        this.ctx.counters.bytesAfterFatal += c.bytes.length;
        continue;
      }
      const { items, skipped } = side.push(bytes);
      this.ctx.counters.resyncSkippedBytes += skipped;
      for (const item of items) this.item(side, item, timeUs, out);
    }
  }

  /** Emit connection.closed (once). */
  close(reason: CloseReason, detail: string, timeUs: number, out: ObserverEvent[]): void {
    if (this.closed) return;
    this.closed = true;
    this.settle('unknown', timeUs, out);
    const r: CloseReason = this.fatalDetail !== undefined && reason === 'peer-closed' ? 'protocol-violation' : reason;
    this.emit(out, 'connection.closed', timeUs, {
      conn: this.conn,
      network: this.ctx.network.name,
      netgroup: this.netgroup,
      reason: r,
      detail: r === 'protocol-violation' ? `${this.fatalDetail}; then ${detail}` : detail,
      durationMs: Math.max(0, timeUs - this.openedUs) / 1000,
      handshakeComplete: this.complete,
      bytesIn: this.client.bytes,
      bytesOut: this.server.bytes,
      messagesIn: this.client.frames,
      messagesOut: this.server.frames,
      ...(this.transport === 'v2' ? { transport: 'v2' as const } : {}),
    });
  }

  private item(side: Side, item: DecodedItem, timeUs: number, out: ObserverEvent[]): void {
    const fromPeer = side === this.client;
    if (item.type === 'violation') {
      const v = item.violation;
      if (v.fatal) side.fatal = true;
      if (!fromPeer) {
        this.ctx.counters.serverViolations++;
        return;
      }
      if (v.fatal) this.fatalDetail ??= `${v.kind}: ${v.detail}`;
      this.ctx.counters.violations++;
      this.emit(out, 'violation', timeUs, {
        conn: this.conn,
        kind: v.kind,
        action: v.fatal ? 'disconnect' : 'drop-message',
        detail: v.detail,
        ...(v.command !== undefined ? { command: v.command } : {}),
        ...(v.length !== undefined ? { size: v.length } : {}),
      });
      return;
    }
    const frame = item.frame;
    side.frames++;
    let message;
    try {
      message = decodeMessage(frame.command, frame.payload);
    } catch (error) {
      if (!fromPeer) {
        this.ctx.counters.serverViolations++;
        return;
      }
      const verdict = malformed(frame.command, error, 'inbound');
      if (verdict.action === 'disconnect') this.fatalDetail ??= `${verdict.kind}: ${verdict.detail}`;
      this.ctx.counters.violations++;
      this.emit(out, 'violation', timeUs, {
        conn: this.conn,
        kind: verdict.kind,
        action: verdict.action,
        detail: verdict.detail,
        command: frame.command,
        size: frame.payload.length,
        ...(this.ctx.recordRaw ? { raw: toBase64(frame.payload) } : {}),
      });
      return;
    }
    this.ctx.counters.messages++;
    this.emit(out, 'message', timeUs, {
      conn: this.conn,
      dir: fromPeer ? 'in' : 'out',
      size: frame.payload.length,
      ...messageSummary(message),
      ...(this.ctx.recordRaw ? { raw: toBase64(frame.payload) } : {}),
    });
    if (isKnown(message)) this.session(fromPeer, message, timeUs, out);
  }

  /** What the live source derives from the session: the peer's version, handshake, ping latency. */
  private session(fromPeer: boolean, m: KnownMessage, timeUs: number, out: ObserverEvent[]): void {
    if (!fromPeer) {
      if (m.command === 'ping') {
        if (this.pings.size >= MAX_OUTSTANDING_PINGS) this.pings.delete(this.pings.keys().next().value!);
        this.pings.set(m.payload.nonce, timeUs);
      }
      return;
    }
    switch (m.command) {
      case 'version': {
        if (this.peerVersion !== undefined) return;
        const v = m.payload;
        this.peerVersion = v.version;
        this.emit(out, 'handshake.version', timeUs, {
          conn: this.conn,
          version: v.version,
          services: v.services.toString(),
          serviceNames: serviceNames(v.services),
          userAgent: v.userAgent ?? '',
          startHeight: v.startHeight ?? null,
          relay: v.relay ?? true,
          nonce: (v.nonce ?? 0n).toString(),
          // Against the capture's clock, as the live source compares with its own.
          timeOffsetSec: Number(v.timestamp) - Math.floor(timeUs / 1_000_000),
          receiver: endpointOfBytes(v.receiver.ip, v.receiver.port),
          sender: v.sender ? endpointOfBytes(v.sender.ip, v.sender.port) : null,
        });
        return;
      }
      case 'wtxidrelay':
        if (!this.complete && this.peerVersion !== undefined && this.peerVersion >= 70016) this.wtxidRelay = true;
        return;
      case 'sendaddrv2':
        if (!this.complete) this.addrV2 = true;
        return;
      case 'verack':
        if (this.complete || this.peerVersion === undefined) return;
        this.complete = true;
        this.emit(out, 'handshake.complete', timeUs, {
          conn: this.conn,
          elapsedMs: Math.max(0, timeUs - this.openedUs) / 1000,
          wtxidRelay: this.wtxidRelay,
          addrV2: this.addrV2,
        });
        return;
      case 'pong': {
        const sent = this.pings.get(m.payload.nonce);
        if (sent === undefined) return;
        this.pings.delete(m.payload.nonce);
        this.emit(out, 'ping.latency', timeUs, {
          conn: this.conn,
          nonce: m.payload.nonce.toString(),
          latencyMs: Math.max(0, timeUs - sent) / 1000,
        });
        return;
      }
      default:
        return;
    }
  }

  private emit<T extends EventType>(out: ObserverEvent[], type: T, timeUs: number, data: EventDataByType[T]): void {
    out.push(makeEvent(this.ctx.origin, type, data, timeUs) as ObserverEvent);
  }
}
