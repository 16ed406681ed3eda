/**
 * The socket adapter: bytes in → FrameDecoder → decodeMessage; messages out →
 * frames. It knows TCP and the codec, nothing of handshakes or events. Every
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
import { decodeMessage, decodeMessagePrefix, encodeMessageFrame } from '../../protocol/messages/index.js';

export interface ConnectionOptions {
  network: Network;
  /** Recognise a BIP324 v2 opening (inbound peers). */
  detectV2: boolean;
  maxSendBufferBytes: number;
}

export type Incoming =
  /** `trailing`: bytes after the message, ignored as Core ignores them (0 for a well-formed payload). */
  | { type: 'message'; message: Message; frame: Frame; trailing: number }
  | { type: 'malformed'; frame: Frame; error: unknown }
  | { type: 'framing'; violation: FramingViolation };

export type EndReason = 'peer-closed' | 'socket-error';

export interface ConnectionHandlers {
  /** One decoded frame or violation, in stream order. */
  onIncoming(item: Incoming): void;
  /** The socket ended without us closing it. Called at most once. */
  onEnd(reason: EndReason, detail: string): void;
  /** A bug in a handler: the owner should close the connection. */
  onInternalError(error: unknown): void;
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
  private readonly decoder: FrameDecoder;
  private closing = false;
  private paused = false;
  private lastError: NodeJS.ErrnoException | undefined;

  constructor(
    readonly socket: Socket,
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder({ network: options.network, detectV2: options.detectV2 });
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
  }

  get closed(): boolean {
    return this.closing;
  }

  /** Bytes held by the frame decoder (bounded by one header plus one checked payload). */
  get pendingIn(): number {
    return this.decoder.pending;
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
    let bytes: Uint8Array;
    try {
      bytes = encodeMessageFrame(this.options.network, message);
    } catch {
      return { ok: false, reason: 'encode-failed' };
    }
    this.socket.write(bytes);
    this.bytesOut += bytes.length;
    this.framesOut++;
    if (this.socket.writableLength >= this.options.maxSendBufferBytes && !this.paused) {
      this.paused = true;
      this.sendPauses++;
      this.socket.pause();
    }
    return { ok: true, size: bytes.length - 24 };
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
      const items = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      for (const item of items) {
        if (this.closing) return;
        if (item.type === 'violation') {
          this.handlers.onIncoming({ type: 'framing', violation: item.violation });
          continue;
        }
        this.framesIn++;
        let decoded: { message: Message; trailing: number };
        try {
          decoded = { message: decodeMessage(item.frame.command, item.frame.payload), trailing: 0 };
        } catch (error) {
          const prefix = error instanceof DecodeError && error.code === 'trailing-bytes' ? decodePrefix(item.frame) : undefined;
          if (!prefix) {
            this.handlers.onIncoming({ type: 'malformed', frame: item.frame, error });
            continue;
          }
          decoded = prefix;
        }
        this.handlers.onIncoming({ type: 'message', ...decoded, frame: item.frame });
      }
    } catch (error) {
      this.handlers.onInternalError(error);
    }
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
