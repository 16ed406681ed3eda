/**
 * v1 transport framing: magic (4), command (12, NUL-padded ASCII), payload length
 * (u32 LE), checksum (first 4 bytes of sha256d(payload)).
 *
 * `FrameDecoder` turns arbitrarily chunked TCP bytes into frames and typed framing
 * violations, following Bitcoin Core's V1Transport: a wrong magic or an oversize
 * length disconnects (checked from the header, before any payload is buffered);
 * a wrong checksum or an invalid command drops that one message and goes on.
 */
import { sha256d, sha256dChecksum } from './hash.js';
import { MAX_PROTOCOL_MESSAGE_LENGTH } from './limits.js';
import { findNetworkByMagic, type Network } from './networks.js';

export const HEADER_SIZE = 24;
export const COMMAND_SIZE = 12;

export interface Frame {
  command: string;
  payload: Uint8Array;
  /** Header + payload bytes on the wire. */
  wireSize: number;
}

export type FramingViolationKind =
  | 'v2-transport' // first bytes are not v1 magic: a BIP324 peer (ElligatorSwift key)
  | 'wrong-network' // first bytes are another network's magic
  | 'bad-magic' // later frame with a wrong magic: stream out of sync
  | 'oversize' // header length above MAX_PROTOCOL_MESSAGE_LENGTH
  | 'bad-checksum'
  | 'invalid-command'; // command bytes not printable ASCII followed by NUL padding

export interface FramingViolation {
  kind: FramingViolationKind;
  /** Bitcoin Core disconnects for this one. After a fatal violation the decoder accepts no more bytes. */
  fatal: boolean;
  detail: string;
  /** Command from the header where one was read. */
  command?: string;
  /** Length claimed by the header, where one was read. */
  length?: number;
  /** Byte offset of the frame in the stream. */
  offset: number;
}

export type DecodedItem = { type: 'frame'; frame: Frame } | { type: 'violation'; violation: FramingViolation };

/**
 * Read the command field. Core's IsMessageTypeValid: printable ASCII (0x20..0x7e)
 * up to the first NUL, and only NULs after it. Returns the text and its validity.
 */
export function readCommand(bytes: Uint8Array, at: number): { command: string; valid: boolean } {
  let end = COMMAND_SIZE;
  let valid = true;
  for (let i = 0; i < COMMAND_SIZE; i++) {
    const c = bytes[at + i]!;
    if (c === 0) {
      end = i;
      for (let j = i + 1; j < COMMAND_SIZE; j++) if (bytes[at + j] !== 0) valid = false;
      break;
    }
    if (c < 0x20 || c > 0x7e) valid = false;
  }
  let command = '';
  for (let i = 0; i < end; i++) command += String.fromCharCode(bytes[at + i]!);
  return { command, valid };
}

/**
 * Command strings of valid commands, keyed by the field's three little-endian
 * words: the same few commands arrive on every connection, so the common case
 * is a lookup with no string built and no allocation (and the same string every
 * time, which keeps later property lookups by command fast). Direct-mapped and
 * bounded: a slot is overwritten on a miss, so junk commands cost only the slow
 * path.
 */
interface CommandSlot {
  w0: number;
  w1: number;
  w2: number;
  command: string;
}
const COMMAND_CACHE_SLOTS = 256;
const commandCache = new Array<CommandSlot | undefined>(COMMAND_CACHE_SLOTS).fill(undefined);

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The command of a header at `at` (magic first), or undefined when the field is not a valid command. */
function cachedCommand(head: Uint8Array, at: number): string | undefined {
  const w0 = u32le(head, at);
  const w1 = u32le(head, at + 4);
  const w2 = u32le(head, at + 8);
  const slot = (Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b), 0x27d4eb2f) >>> 24) % COMMAND_CACHE_SLOTS;
  const hit = commandCache[slot];
  if (hit !== undefined && hit.w0 === w0 && hit.w1 === w1 && hit.w2 === w2) return hit.command;
  const { command, valid } = readCommand(head, at);
  if (!valid) return undefined;
  commandCache[slot] = { w0, w1, w2, command };
  return command;
}

export function encodeFrame(network: Network, command: string, payload: Uint8Array): Uint8Array {
  if (command.length > COMMAND_SIZE) throw new RangeError(`command '${command}' longer than ${COMMAND_SIZE}`);
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, network.magic, false);
  for (let i = 0; i < command.length; i++) out[4 + i] = command.charCodeAt(i) & 0xff;
  view.setUint32(16, payload.length, true);
  out.set(sha256d(payload).subarray(0, 4), 20);
  out.set(payload, HEADER_SIZE);
  return out;
}

export interface FrameDecoderOptions {
  network: Network;
  /** Treat the first bytes of the stream as a possible BIP324 v2 handshake (true for inbound peers). */
  detectV2?: boolean;
  maxMessageLength?: number;
}

/**
 * Streaming decoder. Memory per peer is bounded and proportional to what the peer
 * actually sent: a header is checked before its payload is buffered, and a
 * payload buffer grows with the bytes received (never allocated from the claimed
 * length up front). A frame that arrives whole in one chunk is returned as a view
 * into that chunk, without a copy. Work is linear in the bytes pushed, whatever
 * the chunking.
 */
export class FrameDecoder {
  private readonly head = new Uint8Array(HEADER_SIZE);
  private headFill = 0;
  private header: { command: string; validCommand: boolean; length: number; checksum: number } | undefined;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private streamOffset = 0;
  private magicChecked = false;
  private dead = false;
  private readonly maxLength: number;

  constructor(private readonly options: FrameDecoderOptions) {
    this.maxLength = options.maxMessageLength ?? MAX_PROTOCOL_MESSAGE_LENGTH;
  }

  /** True after a fatal violation: the connection must be closed. */
  get closed(): boolean {
    return this.dead;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.headFill + this.bodyFill + (this.header ? HEADER_SIZE : 0);
  }

  /** Bytes currently allocated for a partial payload. */
  get allocated(): number {
    return this.body?.length ?? 0;
  }

  /** Feed bytes as they arrive; returns every frame and violation they complete. */
  push(chunk: Uint8Array): DecodedItem[] {
    const out: DecodedItem[] = [];
    let pos = 0;
    while (!this.dead && pos < chunk.length) {
      if (!this.header) {
        let head: Uint8Array;
        if (this.headFill === 0 && chunk.length - pos >= HEADER_SIZE) {
          head = chunk.subarray(pos, pos + HEADER_SIZE);
          pos += HEADER_SIZE;
        } else {
          const take = Math.min(HEADER_SIZE - this.headFill, chunk.length - pos);
          this.head.set(chunk.subarray(pos, pos + take), this.headFill);
          this.headFill += take;
          pos += take;
          // A v2 key never starts with our magic: say so as soon as 4 bytes are in.
          if (!this.magicChecked && this.headFill >= 4 && this.headFill < HEADER_SIZE) {
            this.magicChecked = true;
            const v = this.checkMagic(this.head);
            if (v) out.push(this.fatal(v));
          }
          if (this.headFill < HEADER_SIZE) continue;
          this.headFill = 0;
          head = this.head;
        }
        const v = this.checkMagic(head);
        if (v) {
          out.push(this.fatal(v));
          break;
        }
        this.magicChecked = false;
        let command = cachedCommand(head, 4);
        let valid = true;
        if (command === undefined) ({ command, valid } = readCommand(head, 4));
        const length = u32le(head, 16);
        if (length > this.maxLength) {
          out.push(
            this.fatal({
              kind: 'oversize',
              fatal: true,
              detail: `${command}: ${length} bytes > maximum ${this.maxLength}`,
              command,
              length,
              offset: this.streamOffset,
            }),
          );
          break;
        }
        const checksum = ((head[20]! << 24) | (head[21]! << 16) | (head[22]! << 8) | head[23]!) >>> 0;
        this.header = { command, validCommand: valid, length, checksum };
      }
      const length = this.header.length;
      let payload: Uint8Array;
      if (this.bodyFill === 0 && chunk.length - pos >= length) {
        payload = chunk.subarray(pos, pos + length);
        pos += length;
      } else {
        if (pos === chunk.length) break;
        const take = Math.min(length - this.bodyFill, chunk.length - pos);
        this.growBody(this.bodyFill + take, length);
        this.body!.set(chunk.subarray(pos, pos + take), this.bodyFill);
        this.bodyFill += take;
        pos += take;
        if (this.bodyFill < length) break;
        payload = this.body!.subarray(0, length);
        this.body = undefined;
        this.bodyFill = 0;
      }
      out.push(this.finishFrame(payload));
    }
    return out;
  }

  /**
   * Grow the partial-payload buffer to twice what has been received (at least
   * 4 KiB), never beyond the (already checked) length: memory stays within 2× what
   * the peer sent, and a frame spread over a few socket reads is copied about once
   * rather than once per read.
   */
  private growBody(needed: number, length: number): void {
    const cap = this.body?.length ?? 0;
    if (needed <= cap) return;
    const next = new Uint8Array(Math.min(length, Math.max(needed * 2, 4096)));
    if (this.body) next.set(this.body.subarray(0, this.bodyFill));
    this.body = next;
  }

  private finishFrame(payload: Uint8Array): DecodedItem {
    const h = this.header!;
    const offset = this.streamOffset;
    this.streamOffset += HEADER_SIZE + h.length;
    this.header = undefined;
    const actual = sha256dChecksum(payload);
    if (actual !== h.checksum) {
      return {
        type: 'violation',
        violation: {
          kind: 'bad-checksum',
          fatal: false,
          detail: `${h.command} (${h.length} bytes): expected ${hex32(actual)} was ${hex32(h.checksum)}`,
          command: h.command,
          length: h.length,
          offset,
        },
      };
    }
    if (!h.validCommand) {
      return {
        type: 'violation',
        violation: {
          kind: 'invalid-command',
          fatal: false,
          detail: `command ${JSON.stringify(h.command)} is not printable ASCII with NUL padding`,
          command: h.command,
          length: h.length,
          offset,
        },
      };
    }
    return { type: 'frame', frame: { command: h.command, payload, wireSize: HEADER_SIZE + h.length } };
  }

  private checkMagic(head: Uint8Array): FramingViolation | undefined {
    const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (magic === this.options.network.magic) return undefined;
    const offset = this.streamOffset;
    const other = findNetworkByMagic(magic);
    if (other) {
      return {
        kind: 'wrong-network',
        fatal: true,
        detail: `magic ${hex32(magic)} is ${other.name}, expected ${this.options.network.name}`,
        offset,
      };
    }
    if (offset === 0 && this.options.detectV2) {
      return { kind: 'v2-transport', fatal: true, detail: `first bytes ${hex32(magic)} are not v1 magic: BIP324 v2 handshake`, offset };
    }
    return { kind: 'bad-magic', fatal: true, detail: `magic ${hex32(magic)}, expected ${hex32(this.options.network.magic)}`, offset };
  }

  private fatal(violation: FramingViolation): DecodedItem {
    this.dead = true;
    this.header = undefined;
    this.body = undefined;
    this.bodyFill = 0;
    this.headFill = 0;
    return { type: 'violation', violation };
  }
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
