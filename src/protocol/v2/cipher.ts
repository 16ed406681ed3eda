/**
 * BIP324's ciphers: FSChaCha20 (packet lengths), FSChaCha20Poly1305 (packet
 * contents), both rekeying every 224 uses, and the key schedule (HKDF-SHA256
 * salted with the network magic) that BIP324Cipher builds them from.
 *
 * ChaCha20 and the ChaCha20-Poly1305 AEAD are node:crypto's (OpenSSL): it has
 * both forms BIP324 needs, the raw ChaCha20 stream with a 96-bit nonce and a
 * 32-bit block counter ('chacha20', IV = counter LE || nonce) and RFC 8439's AEAD
 * ('chacha20-poly1305'). It measured faster than @noble/ciphers on every packet
 * size (docs/benchmarks.md), so there is no pure-JS cipher dependency.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

/** Packets (or lengths) per key: BIP324 REKEY_INTERVAL. */
export const REKEY_INTERVAL = 224;
export const LENGTH_LEN = 3;
export const HEADER_LEN = 1;
export const TAG_LEN = 16;
/** Bytes a packet adds to its contents: length, header, tag (BIP324Cipher::EXPANSION). */
export const EXPANSION = LENGTH_LEN + HEADER_LEN + TAG_LEN;
export const GARBAGE_TERMINATOR_LEN = 16;
/** The ignore bit of the header byte: a decoy packet. */
export const IGNORE_BIT = 0x80;

const ZERO32 = new Uint8Array(32);

function nonce(low: number, rekeys: number): Uint8Array {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setUint32(0, low >>> 0, true);
  view.setBigUint64(4, BigInt(rekeys), true);
  return n;
}

/**
 * FSChaCha20: one ChaCha20 keystream per key for 3-byte length fields; after 224
 * of them the next 32 keystream bytes are the new key. The whole keystream of a
 * key (224 × 3 + 32 bytes) is made in one call when the key is set, so a length
 * costs three XORs rather than a native call.
 */
export class FSChaCha20 {
  private chunks = 0;
  private keystream = new Uint8Array(0);
  private at = 0;

  constructor(key: Uint8Array) {
    this.rekey(key);
  }

  private rekey(key: Uint8Array): void {
    const iv = new Uint8Array(16); // block counter 0 || nonce (0 || rekey count)
    iv.set(nonce(0, Math.floor(this.chunks / REKEY_INTERVAL)), 4);
    const c = createCipheriv('chacha20', key, iv);
    this.keystream = new Uint8Array(c.update(new Uint8Array(REKEY_INTERVAL * LENGTH_LEN + 32)));
    this.at = 0;
  }

  /** Encrypt or decrypt (the same) one 3-byte chunk. */
  crypt(chunk: Uint8Array): Uint8Array {
    if (chunk.length !== LENGTH_LEN) throw new RangeError(`FSChaCha20 chunks are ${LENGTH_LEN} bytes`);
    const ks = this.keystream;
    const at = this.at;
    const out = Uint8Array.of(chunk[0]! ^ ks[at]!, chunk[1]! ^ ks[at + 1]!, chunk[2]! ^ ks[at + 2]!);
    this.next();
    return out;
  }

  /**
   * The same as crypt() for a length field, read as the little-endian 24-bit
   * number it encrypts to, without allocating: the receive path's form.
   */
  cryptLength(b0: number, b1: number, b2: number): number {
    const ks = this.keystream;
    const at = this.at;
    const length = (b0 ^ ks[at]!) | ((b1 ^ ks[at + 1]!) << 8) | ((b2 ^ ks[at + 2]!) << 16);
    this.next();
    return length;
  }

  private next(): void {
    this.at += LENGTH_LEN;
    this.chunks++;
    if (this.chunks % REKEY_INTERVAL === 0) this.rekey(this.keystream.slice(this.at, this.at + 32));
  }
}

/** FSChaCha20Poly1305: the AEAD with a packet counter as nonce, rekeyed every 224 packets. */
export class FSChaCha20Poly1305 {
  private packets = 0;
  /** The packet nonce, rewritten in place: packet counter mod 224 (LE32) || rekey counter (LE64). */
  private readonly nonceBytes = new Uint8Array(12);
  private readonly nonceView = new DataView(this.nonceBytes.buffer);

  constructor(private key: Uint8Array) {}

  private nonce(): Uint8Array {
    const rekeys = Math.floor(this.packets / REKEY_INTERVAL);
    this.nonceView.setUint32(0, this.packets % REKEY_INTERVAL, true);
    this.nonceView.setUint32(4, rekeys >>> 0, true);
    this.nonceView.setUint32(8, Math.floor(rekeys / 2 ** 32), true);
    return this.nonceBytes;
  }

  private advance(): void {
    if ((this.packets + 1) % REKEY_INTERVAL === 0) {
      const n = nonce(0xffffffff, Math.floor(this.packets / REKEY_INTERVAL));
      const c = createCipheriv('chacha20-poly1305', this.key, n, { authTagLength: TAG_LEN });
      this.key = new Uint8Array(c.update(ZERO32));
    }
    this.packets++;
  }

  /** Ciphertext || tag of `parts` (concatenated) written into `out` at `at`; returns bytes written. */
  encrypt(aad: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array, at: number): number {
    const c = createCipheriv('chacha20-poly1305', this.key, this.nonce(), { authTagLength: TAG_LEN });
    let length = 0;
    for (const p of parts) length += p.length;
    if (aad.length > 0) c.setAAD(aad, { plaintextLength: length });
    let pos = at;
    for (const p of parts) {
      const ct = c.update(p);
      out.set(ct, pos);
      pos += ct.length;
    }
    c.final();
    out.set(c.getAuthTag(), pos);
    this.advance();
    return pos + TAG_LEN - at;
  }

  /** The plaintext of ciphertext || tag, or undefined when the tag does not verify. The key moves on either way. */
  decrypt(aad: Uint8Array, input: Uint8Array): Uint8Array | undefined {
    const length = input.length - TAG_LEN;
    const d = createDecipheriv('chacha20-poly1305', this.key, this.nonce(), { authTagLength: TAG_LEN });
    d.setAuthTag(input.subarray(length));
    if (aad.length > 0) d.setAAD(aad, { plaintextLength: length });
    // A Buffer is a Uint8Array: returned as it is, no second view per packet.
    const plain: Uint8Array = d.update(input.subarray(0, length));
    let ok = true;
    try {
      d.final();
    } catch {
      ok = false;
    }
    this.advance();
    return ok ? plain : undefined;
  }
}

function hkdfExpand32(prk: Uint8Array, info: string): Uint8Array {
  // RFC 5869 with L = 32: one block, T(1) = HMAC(PRK, info || 0x01).
  return new Uint8Array(createHmac('sha256', prk).update(info).update(Uint8Array.of(1)).digest());
}

export interface SessionKeys {
  sessionId: Uint8Array;
  sendL: Uint8Array;
  sendP: Uint8Array;
  recvL: Uint8Array;
  recvP: Uint8Array;
  sendGarbageTerminator: Uint8Array;
  recvGarbageTerminator: Uint8Array;
}

/** BIP324 initialize_v2_transport: keys and terminators from the ECDH secret, salted with the network magic. */
export function deriveSessionKeys(ecdhSecret: Uint8Array, magic: number, initiating: boolean): SessionKeys {
  const salt = new Uint8Array(24 + 4);
  salt.set(new TextEncoder().encode('bitcoin_v2_shared_secret'), 0);
  new DataView(salt.buffer).setUint32(24, magic, false); // the message start bytes, in wire order
  const prk = new Uint8Array(createHmac('sha256', salt).update(ecdhSecret).digest());
  const initiatorL = hkdfExpand32(prk, 'initiator_L');
  const initiatorP = hkdfExpand32(prk, 'initiator_P');
  const responderL = hkdfExpand32(prk, 'responder_L');
  const responderP = hkdfExpand32(prk, 'responder_P');
  const terminators = hkdfExpand32(prk, 'garbage_terminators');
  const sessionId = hkdfExpand32(prk, 'session_id');
  const initiatorTerm = terminators.slice(0, 16);
  const responderTerm = terminators.slice(16, 32);
  return initiating
    ? {
        sessionId,
        sendL: initiatorL,
        sendP: initiatorP,
        recvL: responderL,
        recvP: responderP,
        sendGarbageTerminator: initiatorTerm,
        recvGarbageTerminator: responderTerm,
      }
    : {
        sessionId,
        sendL: responderL,
        sendP: responderP,
        recvL: initiatorL,
        recvP: initiatorP,
        sendGarbageTerminator: responderTerm,
        recvGarbageTerminator: initiatorTerm,
      };
}

/** Both directions' packet ciphers of one session (BIP324Cipher after Initialize). */
export class PacketCipher {
  private readonly sendL: FSChaCha20;
  private readonly sendP: FSChaCha20Poly1305;
  private readonly recvL: FSChaCha20;
  private readonly recvP: FSChaCha20Poly1305;

  constructor(keys: SessionKeys) {
    this.sendL = new FSChaCha20(keys.sendL);
    this.sendP = new FSChaCha20Poly1305(keys.sendP);
    this.recvL = new FSChaCha20(keys.recvL);
    this.recvP = new FSChaCha20Poly1305(keys.recvP);
  }

  /** One packet: encrypted length || encrypted (header || contents) || tag. `contents` may be given in parts. */
  encrypt(contents: readonly Uint8Array[], aad: Uint8Array, ignore: boolean): Uint8Array {
    let length = 0;
    for (const p of contents) length += p.length;
    if (length > 0xffffff) throw new RangeError(`packet contents ${length} bytes > 2^24 - 1`);
    const out = new Uint8Array(length + EXPANSION);
    const header = Uint8Array.of(ignore ? IGNORE_BIT : 0);
    this.sendP.encrypt(aad, [header, ...contents], out, LENGTH_LEN);
    out.set(this.sendL.crypt(Uint8Array.of(length & 0xff, (length >>> 8) & 0xff, length >>> 16)), 0);
    return out;
  }

  /** The contents length an encrypted 3-byte length field says. */
  decryptLength(encrypted: Uint8Array): number {
    if (encrypted.length !== LENGTH_LEN) throw new RangeError(`length fields are ${LENGTH_LEN} bytes`);
    return this.recvL.cryptLength(encrypted[0]!, encrypted[1]!, encrypted[2]!);
  }

  /** Header + contents + tag (without the length) → { ignore, contents }, or undefined on a bad tag. */
  decrypt(input: Uint8Array, aad: Uint8Array): { ignore: boolean; contents: Uint8Array } | undefined {
    const plain = this.recvP.decrypt(aad, input);
    if (!plain) return undefined;
    return { ignore: (plain[0]! & IGNORE_BIT) !== 0, contents: plain.subarray(HEADER_LEN) };
  }

  /**
   * The receive path's decrypt: header || contents (the header byte first, its
   * IGNORE_BIT marks a decoy), or undefined on a bad tag; no wrapper object.
   */
  decryptPacket(input: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
    return this.recvP.decrypt(aad, input);
  }
}
