/**
 * The BIP324 v2 transport, I/O-free, in the shape of the v1 FrameDecoder: push
 * the bytes a peer sent, get back frames, typed violations, and the bytes the
 * handshake needs us to send; encode our messages as packets.
 *
 * It follows Bitcoin Core's V2Transport (net.cpp) state by state:
 *
 *   responder: maybe-v1 → key → garbage → version → app
 *   initiator:            key → garbage → version → app
 *
 * - maybe-v1 (ProcessReceivedMaybeV1Bytes): an inbound peer whose first 16 bytes
 *   are our magic + "version\0\0\0\0\0" speaks v1 (a `v1` item hands those bytes
 *   back for the v1 FrameDecoder); the first byte that differs makes it v2 and we
 *   send our key and garbage at once.
 * - key (ProcessReceivedKeyBytes): 64 bytes of their ElligatorSwift key. A
 *   responder that sees "version\0\0\0\0\0" at bytes 4..16 (a v1 peer of another
 *   network) disconnects. With the key, the ciphers start and we send our
 *   garbage terminator, any decoys, and our version packet (AAD: our garbage).
 * - garbage (ProcessReceivedGarbageBytes): up to 4095 bytes of garbage before
 *   their 16-byte terminator; no terminator within 4095 + 16 bytes disconnects.
 * - version / app (ProcessReceivedPacketBytes): a length above
 *   1 + 12 + 4,000,000 disconnects before anything is allocated; a packet that
 *   fails authentication disconnects; decoys (ignore bit) are counted and
 *   dropped; the first other packet is their version packet (contents ignored,
 *   for future extensions); after it every packet is a message.
 * - A message whose type cannot be read (empty contents, an unknown short id, a
 *   bad long form) is dropped and counted, the connection stays
 *   (GetMessageType / GetReceivedMessage's reject_message).
 *
 * Memory per peer is bounded by what the peer sent: garbage by 4111 bytes, a
 * packet buffer grows with the bytes received, never from the claimed length.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { COMMAND_SIZE, type Frame } from '../framing.js';
import { MAX_PROTOCOL_MESSAGE_LENGTH } from '../limits.js';
import { concatBytes as concat } from '../primitives.js';
import type { Network } from '../networks.js';
import {
  deriveSessionKeys,
  EXPANSION,
  GARBAGE_TERMINATOR_LEN,
  HEADER_LEN,
  IGNORE_BIT,
  LENGTH_LEN,
  PacketCipher,
  TAG_LEN,
} from './cipher.js';
import { ellswiftCreate, v2Ecdh, type EllSwiftKey } from './ellswift.js';

/** Most garbage either side may send before its terminator (BIP324; V2Transport::MAX_GARBAGE_LEN). */
export const MAX_GARBAGE_LEN = 4095;
export const ELLSWIFT_LEN = 64;
/** Bytes that tell a v1 peer from a v2 one: magic + "version" NUL-padded (V1_PREFIX_LEN). */
export const V1_PREFIX_LEN = 16;
/** Messages queued before the handshake lets us encrypt (our version message, in practice). */
const MAX_QUEUED_BEFORE_READY = 16;

/**
 * BIP324's one-byte message type ids, index = id (Core's V2_MESSAGE_IDS). 0 means
 * a 12-byte type follows; 29..32 are assigned by BIP324 to messages Core does not
 * implement (it reads them as an empty type and ignores them).
 */
export const V2_MESSAGE_IDS: readonly string[] = Object.freeze([
  '',
  'addr',
  'block',
  'blocktxn',
  'cmpctblock',
  'feefilter',
  'filteradd',
  'filterclear',
  'filterload',
  'getblocks',
  'getblocktxn',
  'getdata',
  'getheaders',
  'headers',
  'inv',
  'mempool',
  'merkleblock',
  'notfound',
  'ping',
  'pong',
  'sendcmpct',
  'tx',
  'getcfilters',
  'cfilter',
  'getcfheaders',
  'cfheaders',
  'getcfcheckpt',
  'cfcheckpt',
  'addrv2',
]);
/** Ids BIP324 reserves beyond Core's table (V2_MESSAGE_IDS's trailing empty entries). */
export const V2_RESERVED_IDS = 4;
const SHORT_ID = new Map<string, number>(V2_MESSAGE_IDS.map((c, i) => [c, i] as [string, number]).filter(([c]) => c !== ''));

export function shortMessageId(command: string): number | undefined {
  return SHORT_ID.get(command);
}

export type V2ViolationKind =
  | 'v1-wrong-network' // responder: a v1 version header with another network's magic
  | 'missing-garbage-terminator' // no terminator within 4095 bytes of garbage
  | 'oversize-packet' // decrypted length above the maximum contents
  | 'decryption-failure' // the packet's tag does not verify (wrong key, tampering, garbage)
  | 'v1-after-v2' // an oversize or unauthentic packet that starts with our magic: v1 bytes after a v2 start
  | 'invalid-message-type' // empty contents or a malformed 12-byte type
  | 'unknown-message-id'; // a one-byte id not in BIP324's table (or reserved and unimplemented)

export interface V2Violation {
  kind: V2ViolationKind;
  /** Core disconnects for this one; after it the transport accepts no more bytes. */
  fatal: boolean;
  detail: string;
  /** Byte offset in the received stream where the offending part began. */
  offset: number;
  /** Contents length of the packet, where one was read. */
  length?: number;
  command?: string;
}

export type V2Item =
  /** Bytes to write to the peer now (key, garbage, terminator, decoys, version packet, queued messages). */
  | { type: 'send'; bytes: Uint8Array }
  /** Inbound peer speaks v1: feed `bytes` (all received so far) to a v1 FrameDecoder from now on. */
  | { type: 'v1'; bytes: Uint8Array }
  /** Their version packet arrived: the session is up. */
  | { type: 'handshake'; sessionId: string; garbageLength: number; decoys: number }
  | { type: 'frame'; frame: Frame }
  | { type: 'violation'; violation: V2Violation };

export type V2State = 'maybe-v1' | 'key' | 'garbage' | 'version' | 'app' | 'v1' | 'closed';

export interface V2TransportOptions {
  network: Network;
  /** We dialled (initiator) or were dialled (responder). */
  initiating: boolean;
  maxMessageLength?: number;
  /** Garbage we send after our key; default random, 0..4095 bytes (Core's GenerateRandomGarbage). */
  garbage?: Uint8Array;
  /** Contents lengths of decoy packets sent before our version packet; default none (as Core). */
  decoys?: readonly number[];
  /**
   * Our key pair, or where to take one (the p2p source's key pool); default a
   * fresh one. Taken when first needed: at start() when initiating, and when
   * the first bytes show a v2 peer when responding (a v1 peer costs no key).
   */
  key?: EllSwiftKey | (() => EllSwiftKey);
  /** The ECDH (fuzzing and benchmarks pass a memoised one with fixed keys); default BIP324's v2_ecdh. */
  ecdh?: typeof v2Ecdh;
}

function randomGarbage(): Uint8Array {
  return new Uint8Array(randomBytes(randomInt(MAX_GARBAGE_LEN + 1)));
}

/** A message whose type cannot be read: dropped and counted, the connection stays (GetReceivedMessage's reject_message). */
function rejectMessage(kind: V2ViolationKind, detail: string, offset: number, length: number, command?: string): V2Item {
  return { type: 'violation', violation: { kind, fatal: false, detail, offset, length, ...(command !== undefined ? { command } : {}) } };
}

export class V2Transport {
  /** Decoy packets received (ignore bit set), dropped after authentication. */
  decoysIn = 0;
  /** Decoy packets we sent. */
  decoysOut = 0;
  /** Length of the garbage the peer sent before its terminator (known once found). */
  garbageIn = 0;
  /** Bytes received since construction. */
  bytesIn = 0;
  /** Contents length of the peer's version packet (Core sends it empty), -1 until it arrives. */
  versionContentsIn = -1;
  private stateValue: V2State;
  private keyValue: EllSwiftKey | undefined;
  private readonly sendGarbage: Uint8Array;
  private cipher: PacketCipher | undefined;
  private sessionIdHex = '';
  private recvTerminator: Uint8Array | undefined;
  private readonly maxContents: number;
  private readonly magicBytes: Uint8Array;
  private readonly v1Prefix: Uint8Array;
  /** Key bytes, or the first 16 bytes while telling v1 from v2. */
  private readonly keyBuf = new Uint8Array(ELLSWIFT_LEN);
  private keyFill = 0;
  private garbageBuf: Uint8Array | undefined;
  private garbageFill = 0;
  /** AAD for the first packet: their garbage. */
  private recvAad: Uint8Array = new Uint8Array(0);
  private readonly lenBuf = new Uint8Array(LENGTH_LEN);
  private lenFill = 0;
  /** Contents length of the packet being received, once its length is decrypted. */
  private packetLen = -1;
  /** The first raw bytes of the packet being received (to name v1 bytes after a v2 start). */
  private readonly packetRaw = new Uint8Array(4);
  private packetRawFill = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private packetOffset = 0;
  private readonly queued: Uint8Array[][] = [];
  private handshakeSent = false;

  constructor(private readonly options: V2TransportOptions) {
    if (options.key && typeof options.key !== 'function') this.keyValue = options.key;
    this.sendGarbage = options.garbage ?? randomGarbage();
    if (this.sendGarbage.length > MAX_GARBAGE_LEN) throw new RangeError(`garbage ${this.sendGarbage.length} > ${MAX_GARBAGE_LEN} bytes`);
    this.maxContents = 1 + COMMAND_SIZE + (options.maxMessageLength ?? MAX_PROTOCOL_MESSAGE_LENGTH);
    this.magicBytes = new Uint8Array(4);
    new DataView(this.magicBytes.buffer).setUint32(0, options.network.magic, false);
    this.v1Prefix = new Uint8Array(V1_PREFIX_LEN);
    this.v1Prefix.set(this.magicBytes, 0);
    this.v1Prefix.set(new TextEncoder().encode('version'), 4);
    this.stateValue = options.initiating ? 'key' : 'maybe-v1';
  }

  get state(): V2State {
    return this.stateValue;
  }

  get initiating(): boolean {
    return this.options.initiating;
  }

  /** True after a fatal violation: the connection must be closed. */
  get closed(): boolean {
    return this.stateValue === 'closed';
  }

  /** Session id (hex), known once their key arrived. */
  get sessionId(): string {
    return this.sessionIdHex;
  }

  /** Length of the garbage we sent. */
  get garbageOut(): number {
    return this.sendGarbage.length;
  }

  /** Messages can be encrypted now (their key arrived; our terminator and version packet are out). */
  get canSend(): boolean {
    return this.cipher !== undefined && this.handshakeSent;
  }

  /** Bytes held for an unfinished key, garbage or packet. */
  get pending(): number {
    return this.keyFill + this.garbageFill + this.lenFill + this.bodyFill;
  }

  /** Bytes allocated for a partial packet. */
  get allocated(): number {
    return (this.body?.length ?? 0) + (this.garbageBuf?.length ?? 0);
  }

  /**
   * Core's ShouldReconnectV1: an outbound v2 attempt that received nothing at all
   * before it ended (after we sent more than a v1 header's worth, our 64-byte key)
   * was most likely refused by a v1-only peer; retry it with v1.
   */
  get shouldReconnectV1(): boolean {
    return this.options.initiating && this.stateValue === 'key' && this.bytesIn === 0;
  }

  private get key(): EllSwiftKey {
    if (!this.keyValue) {
      const source = this.options.key;
      this.keyValue = typeof source === 'function' ? source() : ellswiftCreate();
    }
    return this.keyValue;
  }

  /** The initiator's opening: our key and garbage. Call once, before any push. */
  start(): Uint8Array {
    if (!this.options.initiating) throw new Error('only the initiator starts the handshake');
    return concat([this.key.ellswift, this.sendGarbage]);
  }

  /** Feed bytes as they arrive; returns what they complete, in order. */
  push(chunk: Uint8Array): V2Item[] {
    const out: V2Item[] = [];
    let pos = 0;
    this.bytesIn += chunk.length;
    while (pos < chunk.length) {
      switch (this.stateValue) {
        case 'maybe-v1':
          pos = this.maybeV1(chunk, pos, out);
          break;
        case 'key':
          pos = this.keyBytes(chunk, pos, out);
          break;
        case 'garbage':
          pos = this.garbageBytes(chunk, pos, out);
          break;
        case 'version':
        case 'app':
          pos = this.packetBytes(chunk, pos, out);
          break;
        case 'v1':
          throw new Error('the peer speaks v1: push its bytes to a v1 FrameDecoder');
        case 'closed':
          return out;
      }
    }
    return out;
  }

  /** One message as a packet (short id where BIP324 has one). Queued until the handshake lets us encrypt. */
  encodeMessage(command: string, payload: Uint8Array): Uint8Array | undefined {
    const id = SHORT_ID.get(command);
    let contents: Uint8Array[];
    if (id !== undefined) contents = [Uint8Array.of(id), payload];
    else {
      if (command.length > COMMAND_SIZE) throw new RangeError(`command '${command}' longer than ${COMMAND_SIZE}`);
      const type = new Uint8Array(1 + COMMAND_SIZE);
      for (let i = 0; i < command.length; i++) type[1 + i] = command.charCodeAt(i) & 0xff;
      contents = [type, payload];
    }
    if (!this.canSend) {
      if (this.queued.length >= MAX_QUEUED_BEFORE_READY) throw new RangeError('too many messages queued before the v2 handshake');
      this.queued.push(contents);
      return undefined;
    }
    return this.cipher!.encrypt(contents, new Uint8Array(0), false);
  }

  /** A decoy packet of `length` random bytes (the peer drops it). */
  encodeDecoy(length: number): Uint8Array {
    if (!this.canSend) throw new Error('decoys can be sent only after the handshake');
    this.decoysOut++;
    return this.cipher!.encrypt([randomBytes(length)], new Uint8Array(0), true);
  }

  // ---- receive states ----

  private maybeV1(chunk: Uint8Array, pos: number, out: V2Item[]): number {
    while (pos < chunk.length && this.keyFill < V1_PREFIX_LEN) {
      const b = chunk[pos++]!;
      this.keyBuf[this.keyFill++] = b;
      if (b !== this.v1Prefix[this.keyFill - 1]) {
        // Mismatch with the v1 prefix: a v2 peer. Send our key and garbage now.
        this.stateValue = 'key';
        out.push({ type: 'send', bytes: concat([this.key.ellswift, this.sendGarbage]) });
        return pos;
      }
    }
    if (this.keyFill === V1_PREFIX_LEN) {
      this.stateValue = 'v1';
      out.push({ type: 'v1', bytes: concat([this.keyBuf.subarray(0, V1_PREFIX_LEN), chunk.subarray(pos)]) });
      this.keyFill = 0;
      return chunk.length;
    }
    return pos;
  }

  private keyBytes(chunk: Uint8Array, pos: number, out: V2Item[]): number {
    const take = Math.min(ELLSWIFT_LEN - this.keyFill, chunk.length - pos);
    this.keyBuf.set(chunk.subarray(pos, pos + take), this.keyFill);
    this.keyFill += take;
    pos += take;
    if (!this.options.initiating && this.keyFill >= V1_PREFIX_LEN) {
      // V2Transport::ProcessReceivedKeyBytes: "version" at bytes 4..16 but not our magic
      // (else we would be in v1 now): a v1 peer from another network.
      let v1 = true;
      for (let i = 4; i < V1_PREFIX_LEN; i++) if (this.keyBuf[i] !== this.v1Prefix[i]) v1 = false;
      if (v1) {
        const magic = Buffer.from(this.keyBuf.subarray(0, 4)).toString('hex');
        this.fatal(out, { kind: 'v1-wrong-network', detail: `v1 version header with magic ${magic}`, offset: 0 });
        return chunk.length;
      }
    }
    if (this.keyFill < ELLSWIFT_LEN) return pos;
    const theirs = this.keyBuf.slice(0, ELLSWIFT_LEN);
    this.keyFill = 0;
    const secret = (this.options.ecdh ?? v2Ecdh)(this.key.privateKey, theirs, this.key.ellswift, this.options.initiating);
    const keys = deriveSessionKeys(secret, this.options.network.magic, this.options.initiating);
    this.cipher = new PacketCipher(keys);
    this.sessionIdHex = Buffer.from(keys.sessionId).toString('hex');
    this.recvTerminator = keys.recvGarbageTerminator;
    this.stateValue = 'garbage';
    this.garbageBuf = new Uint8Array(MAX_GARBAGE_LEN + GARBAGE_TERMINATOR_LEN);
    // Our terminator, decoys (the first packet carries our garbage as AAD), version packet, queued messages.
    const parts: Uint8Array[] = [keys.sendGarbageTerminator];
    let aad = this.sendGarbage;
    for (const length of this.options.decoys ?? []) {
      parts.push(this.cipher.encrypt([randomBytes(length)], aad, true));
      this.decoysOut++;
      aad = new Uint8Array(0);
    }
    parts.push(this.cipher.encrypt([], aad, false)); // VERSION_CONTENTS: empty
    this.handshakeSent = true;
    for (const contents of this.queued.splice(0)) parts.push(this.cipher.encrypt(contents, new Uint8Array(0), false));
    out.push({ type: 'send', bytes: concat(parts) });
    return pos;
  }

  private garbageBytes(chunk: Uint8Array, pos: number, out: V2Item[]): number {
    const buf = this.garbageBuf!;
    const term = this.recvTerminator!;
    const last = term[GARBAGE_TERMINATOR_LEN - 1]!;
    while (pos < chunk.length) {
      const b = chunk[pos++]!;
      buf[this.garbageFill++] = b;
      if (b === last && this.garbageFill >= GARBAGE_TERMINATOR_LEN && this.endsWithTerminator(buf, this.garbageFill, term)) {
        this.garbageIn = this.garbageFill - GARBAGE_TERMINATOR_LEN;
        this.recvAad = buf.slice(0, this.garbageIn);
        this.garbageBuf = undefined;
        this.garbageFill = 0;
        this.stateValue = 'version';
        this.packetOffset = ELLSWIFT_LEN + this.garbageIn + GARBAGE_TERMINATOR_LEN;
        return pos;
      }
      if (this.garbageFill === buf.length) {
        this.fatal(out, {
          kind: 'missing-garbage-terminator',
          detail: `no garbage terminator within ${MAX_GARBAGE_LEN} bytes of garbage`,
          offset: ELLSWIFT_LEN,
        });
        return chunk.length;
      }
    }
    return pos;
  }

  private endsWithTerminator(buf: Uint8Array, fill: number, term: Uint8Array): boolean {
    const start = fill - GARBAGE_TERMINATOR_LEN;
    for (let i = 0; i < GARBAGE_TERMINATOR_LEN; i++) if (buf[start + i] !== term[i]) return false;
    return true;
  }

  private packetBytes(chunk: Uint8Array, pos: number, out: V2Item[]): number {
    if (this.packetLen < 0) {
      const end = Math.min(pos + LENGTH_LEN - this.lenFill, chunk.length);
      while (pos < end) this.lenBuf[this.lenFill++] = chunk[pos++]!;
      if (this.lenFill < LENGTH_LEN) return pos;
      this.lenFill = 0;
      const raw = this.packetRaw;
      const len = this.lenBuf;
      raw[0] = len[0]!;
      raw[1] = len[1]!;
      raw[2] = len[2]!;
      this.packetRawFill = LENGTH_LEN;
      this.packetLen = this.cipher!.decryptLength(len);
      // V2Transport::ProcessReceivedPacketBytes: "packet too large", before allocating anything.
      if (this.packetLen > this.maxContents) {
        const v1 = this.startsWithMagic();
        this.fatal(out, {
          kind: v1 ? 'v1-after-v2' : 'oversize-packet',
          detail: `${v1 ? 'v1 magic where a v2 packet was expected; ' : ''}decrypted length ${this.packetLen} > maximum ${this.maxContents}`,
          offset: this.packetOffset,
          length: this.packetLen,
        });
        return chunk.length;
      }
    }
    const need = this.packetLen + HEADER_LEN + TAG_LEN;
    if (this.packetRawFill === LENGTH_LEN && pos < chunk.length) this.packetRaw[this.packetRawFill++] = chunk[pos]!;
    let input: Uint8Array;
    if (this.bodyFill === 0 && chunk.length - pos >= need) {
      input = chunk.subarray(pos, pos + need);
      pos += need;
    } else {
      if (pos === chunk.length) return pos;
      const take = Math.min(need - this.bodyFill, chunk.length - pos);
      this.growBody(this.bodyFill + take, need);
      this.body!.set(chunk.subarray(pos, pos + take), this.bodyFill);
      this.bodyFill += take;
      pos += take;
      if (this.bodyFill < need) return pos;
      input = this.body!.subarray(0, need);
      this.body = undefined;
      this.bodyFill = 0;
    }
    const length = this.packetLen;
    const offset = this.packetOffset;
    this.packetLen = -1;
    this.packetOffset += LENGTH_LEN + need;
    const plain = this.cipher!.decryptPacket(input, this.recvAad);
    if (!plain) {
      const v1 = this.startsWithMagic();
      this.fatal(out, {
        kind: v1 ? 'v1-after-v2' : 'decryption-failure',
        detail: `${v1 ? 'v1 magic where a v2 packet was expected; ' : ''}packet of ${length} bytes fails authentication`,
        offset,
        length,
      });
      return chunk.length;
    }
    if (this.recvAad.length > 0) this.recvAad = new Uint8Array(0);
    if ((plain[0]! & IGNORE_BIT) !== 0) {
      this.decoysIn++;
      return pos;
    }
    if (this.stateValue === 'version') {
      this.stateValue = 'app';
      this.versionContentsIn = plain.length - HEADER_LEN;
      out.push({ type: 'handshake', sessionId: this.sessionIdHex, garbageLength: this.garbageIn, decoys: this.decoysIn });
      return pos;
    }
    out.push(this.message(plain.subarray(HEADER_LEN), offset));
    return pos;
  }

  private startsWithMagic(): boolean {
    for (let i = 0; i < this.packetRawFill; i++) if (this.packetRaw[i] !== this.magicBytes[i]) return false;
    return true;
  }

  /** V2Transport::GetMessageType: a one-byte id, or 0 and a 12-byte type. */
  private message(contents: Uint8Array, offset: number): V2Item {
    const wireSize = contents.length + EXPANSION;
    // No closure made per message here (this is the hot path): rejections call a module function.
    if (contents.length === 0) return rejectMessage('invalid-message-type', 'empty contents', offset, contents.length);
    const id = contents[0]!;
    if (id !== 0) {
      const command = V2_MESSAGE_IDS[id];
      if (command === undefined) {
        const reserved = id < V2_MESSAGE_IDS.length + V2_RESERVED_IDS;
        return rejectMessage(
          'unknown-message-id',
          `short id ${id}${reserved ? ' (assigned by BIP324, not implemented by Core)' : ''}`,
          offset,
          contents.length,
        );
      }
      return { type: 'frame', frame: { command, payload: contents.subarray(1), wireSize } };
    }
    if (contents.length < 1 + COMMAND_SIZE)
      return rejectMessage('invalid-message-type', `long form with ${contents.length - 1} type bytes`, offset, contents.length);
    let end = COMMAND_SIZE;
    let command = '';
    for (let i = 0; i < COMMAND_SIZE; i++) {
      const c = contents[1 + i]!;
      if (c === 0) {
        end = i;
        break;
      }
      if (c < 0x20 || c > 0x7f) return rejectMessage('invalid-message-type', `type byte ${c} not printable`, offset, contents.length);
      command += String.fromCharCode(c);
    }
    for (let i = end; i < COMMAND_SIZE; i++) {
      if (contents[1 + i] !== 0)
        return rejectMessage('invalid-message-type', 'type bytes after the NUL padding', offset, contents.length, command);
    }
    return { type: 'frame', frame: { command, payload: contents.subarray(1 + COMMAND_SIZE), wireSize } };
  }

  private growBody(needed: number, length: number): void {
    const cap = this.body?.length ?? 0;
    if (needed <= cap) return;
    const next = new Uint8Array(Math.min(length, Math.max(needed * 2, 4096)));
    if (this.body) next.set(this.body.subarray(0, this.bodyFill));
    this.body = next;
  }

  private fatal(out: V2Item[], v: Omit<V2Violation, 'fatal'>): void {
    this.stateValue = 'closed';
    this.body = undefined;
    this.bodyFill = 0;
    this.garbageBuf = undefined;
    this.garbageFill = 0;
    out.push({ type: 'violation', violation: { ...v, fatal: true } });
  }
}
