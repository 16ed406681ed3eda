/**
 * The socket adapter: bytes in → FrameDecoder (v1) or V2Transport (BIP324,
 * which hands an inbound v1 peer back to a FrameDecoder) → decodeMessage;
 * messages out → frames or v2 packets. It knows TCP and the codec, nothing of
 * handshakes or events. Every
 * socket error and every decode failure becomes a value handed to the owner;
 * nothing a peer sends can throw out of here.
 *
 * Backpressure: when more than `maxSendBufferBytes` wait in the socket's write
 * queue (a peer that does not read), we stop reading from the peer, as Core stops
 * processing a peer's messages while its send buffer is full (fPauseSend), and
 * messages we would still send are dropped and counted. Reading resumes on drain.
 */
import type { Socket } from 'node:net';
import { FrameDecoder, type Frame, type FramingViolation } from '../../protocol/framing.js';
import type { Network } from '../../protocol/networks.js';
import type { Message } from '../../protocol/messages/types.js';
import { DecodeError } from '../../protocol/codec.js';
import { decodeMessage, decodeMessagePrefix, encodeMessageFrame, encodePayload } from '../../protocol/messages/index.js';
import type { EllSwiftKey } from '../../protocol/v2/ellswift.js';
import { V2Transport, type V2Violation } from '../../protocol/v2/transport.js';

export interface ConnectionOptions {
  network: Network;
  /** Recognise a BIP324 v2 opening (inbound peers) and report it as a violation (v2 off). */
  detectV2: boolean;
  maxSendBufferBytes: number;
  /**
   * Speak BIP324 v2: inbound, tell v1 from v2 by the first 16 bytes and serve
   * both (Core's V2Transport); outbound, open with our v2 key. `key` gives our
   * key when the handshake needs it (the observer's key pool); default made then.
   */
  v2?: { initiating: boolean; decoys?: readonly number[]; key?: () => EllSwiftKey };
}

/** What the connection knows of its transport once settled. */
export interface TransportInfo {
  transport: 'v1' | 'v2';
  sessionId?: string;
  garbageLength?: number;
}

export type Incoming =
  /** `trailing`: bytes after the message, ignored as Core ignores them (0 for a well-formed payload). */
  | { type: 'message'; message: Message; frame: Frame; trailing: number }
  | { type: 'malformed'; frame: Frame; error: unknown }
  | { type: 'framing'; violation: FramingViolation }
  | { type: 'v2'; violation: V2Violation };

export type EndReason = 'peer-closed' | 'socket-error';

export interface ConnectionHandlers {
  /** One decoded frame or violation, in stream order. */
  onIncoming(item: Incoming): void;
  /** The socket ended without us closing it. Called at most once. */
  onEnd(reason: EndReason, detail: string): void;
  /** A bug in a handler: the owner should close the connection. */
  onInternalError(error: unknown): void;
  /** The transport is settled: v1 (an inbound v1 peer, or v2 off) or v2 (its version packet arrived). */
  onTransport?(info: TransportInfo): void;
}

export type SendResult = { ok: true; size: number } | { ok: false; reason: 'closed' | 'send-buffer-full' | 'encode-failed' };

/** Errors that just mean the other side went away. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);

export class Connection {
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  /** Messages not sent because the peer's send buffer was full. */
  sendDrops = 0;
  /** Times we stopped reading from the peer because its send buffer was full. */
  sendPauses = 0;
  private decoder: FrameDecoder | undefined;
  private v2: V2Transport | undefined;
  private settled: TransportInfo | undefined;
  private closing = false;
  private paused = false;
  private lastError: NodeJS.ErrnoException | undefined;

  constructor(
    readonly socket: Socket,
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    if (options.v2) {
      this.v2 = new V2Transport({
        network: options.network,
        initiating: options.v2.initiating,
        decoys: options.v2.decoys,
        ...(options.v2.key ? { key: options.v2.key } : {}),
      });
    } else {
      this.decoder = new FrameDecoder({ network: options.network, detectV2: options.detectV2 });
      this.settled = { transport: 'v1' };
    }
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError ??= err;
    });
    socket.on('close', () => this.ended());
    socket.on('drain', () => {
      if (this.paused && !this.closing) {
        this.paused = false;
        socket.resume();
      }
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    if (this.v2?.initiating) this.write(this.v2.start());
  }

  /** The transport once settled (v1 from the start, or when the first bytes or the v2 handshake decided). */
  get transport(): TransportInfo | undefined {
    return this.settled;
  }

  /** The v2 transport in use or being tried (its counters: decoys, garbage, session). */
  get v2Transport(): V2Transport | undefined {
    return this.v2;
  }

  /**
   * Core's V2Transport::ShouldReconnectV1: our outbound v2 attempt ended having
   * received nothing at all (after our 64-byte key, more than a v1 header): the
   * peer most likely speaks only v1, so the owner may retry with v1.
   */
  get shouldReconnectV1(): boolean {
    return this.v2?.shouldReconnectV1 === true;
  }

  get closed(): boolean {
    return this.closing;
  }

  /** Bytes held by the frame decoder (bounded by one header plus one checked payload). */
  get pendingIn(): number {
    return this.decoder?.pending ?? this.v2?.pending ?? 0;
  }

  /** Bytes waiting in the socket's write queue. */
  get pendingOut(): number {
    return this.socket.destroyed ? 0 : this.socket.writableLength;
  }

  send(message: Message): SendResult {
    if (this.closing || this.socket.destroyed) return { ok: false, reason: 'closed' };
    if (this.socket.writableLength >= this.options.maxSendBufferBytes) {
      this.sendDrops++;
      return { ok: false, reason: 'send-buffer-full' };
    }
    let bytes: Uint8Array | undefined;
    let size: number;
    try {
      if (this.v2 && this.v2.state !== 'v1') {
        const payload = encodePayload(message);
        size = payload.length;
        bytes = this.v2.encodeMessage(message.command, payload); // undefined: queued until the v2 handshake
      } else {
        bytes = encodeMessageFrame(this.options.network, message);
        size = bytes.length - 24;
      }
    } catch {
      return { ok: false, reason: 'encode-failed' };
    }
    this.framesOut++;
    if (bytes) this.write(bytes);
    return { ok: true, size };
  }

  private write(bytes: Uint8Array): void {
    this.socket.write(bytes);
    this.bytesOut += bytes.length;
    if (this.socket.writableLength >= this.options.maxSendBufferBytes && !this.paused) {
      this.paused = true;
      this.sendPauses++;
      this.socket.pause();
    }
  }

  /** Close from our side (no onEnd callback). Pending writes are discarded. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.closing) return;
    this.bytesIn += chunk.length;
    try {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (this.v2 && this.v2.state !== 'v1') this.receiveV2(bytes);
      else this.receiveV1(bytes);
    } catch (error) {
      this.handlers.onInternalError(error);
    }
  }

  private receiveV1(bytes: Uint8Array): void {
    for (const item of this.decoder!.push(bytes)) {
      if (this.closing) return;
      if (item.type === 'violation') this.handlers.onIncoming({ type: 'framing', violation: item.violation });
      else this.frame(item.frame);
    }
  }

  private receiveV2(bytes: Uint8Array): void {
    const v2 = this.v2!;
    const items = v2.push(bytes);
    // Core processes what one read brought before it sends: bytes the handshake queued (our key,
    // terminator, version packet) are never sent when the same read ends in a fatal violation
    // (CNode::ReceiveMsgBytes fails, the node is disconnected before its send buffer is flushed).
    const fatal = items.some((i) => i.type === 'violation' && i.violation.fatal);
    for (const item of items) {
      if (this.closing) return;
      switch (item.type) {
        case 'send':
          if (!fatal) this.write(item.bytes);
          break;
        case 'v1':
          // Core's ProcessReceivedMaybeV1Bytes: the first 16 bytes are our magic and
          // "version": a v1 peer. From here on the v1 decoder gets every byte.
          this.decoder = new FrameDecoder({ network: this.options.network });
          this.settle({ transport: 'v1' });
          this.receiveV1(item.bytes);
          break;
        case 'handshake':
          this.settle({ transport: 'v2', sessionId: item.sessionId, garbageLength: item.garbageLength });
          break;
        case 'violation':
          this.handlers.onIncoming({ type: 'v2', violation: item.violation });
          break;
        case 'frame':
          this.frame(item.frame);
          break;
      }
    }
  }

  private settle(info: TransportInfo): void {
    this.settled = info;
    this.handlers.onTransport?.(info);
  }

  private frame(frame: Frame): void {
    this.framesIn++;
    let decoded: { message: Message; trailing: number };
    try {
      decoded = { message: decodeMessage(frame.command, frame.payload), trailing: 0 };
    } catch (error) {
      const prefix = error instanceof DecodeError && error.code === 'trailing-bytes' ? decodePrefix(frame) : undefined;
      if (!prefix) {
        this.handlers.onIncoming({ type: 'malformed', frame, error });
        return;
      }
      decoded = prefix;
    }
    this.handlers.onIncoming({ type: 'message', ...decoded, frame });
  }

  private ended(): void {
    if (this.closing) return;
    this.closing = true;
    const err = this.lastError;
    if (!err) this.handlers.onEnd('peer-closed', 'peer closed the connection');
    else if (err.code && PEER_GONE.has(err.code)) this.handlers.onEnd('peer-closed', err.code);
    else this.handlers.onEnd('socket-error', err.message);
  }
}

/** The message before a payload's trailing bytes (the strict decode already failed only on those). */
function decodePrefix(frame: Frame): { message: Message; trailing: number } | undefined {
  try {
    return decodeMessagePrefix(frame.command, frame.payload);
  } catch {
    return undefined;
  }
}
