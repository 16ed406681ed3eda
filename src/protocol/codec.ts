/**
 * The codec core: a cursor over bytes, a growable writer, and `Codec<T>`, the one
 * shape every field and every message has. Nothing here knows about sockets,
 * events or time.
 */

export type DecodeErrorCode =
  | 'truncated' // input ended inside a field
  | 'trailing-bytes' // payload longer than its message
  | 'non-minimal-compact-size' // CompactSize not in its shortest form
  | 'too-many-items' // a count above the field's named maximum
  | 'too-large' // a byte length above the field's named maximum
  | 'invalid-value'; // a value outside the field's domain

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    /** Where it happened, e.g. `addrv2.entries[3].addr`. */
    readonly path: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${code} at ${path || '<root>'}: ${detail}`, options);
  }

  /** Prefix the path as the error travels up through a composite codec. */
  within(parent: string): DecodeError {
    const path = this.path ? (this.path.startsWith('[') ? `${parent}${this.path}` : `${parent}.${this.path}`) : parent;
    return new DecodeError(this.code, path, this.detail, { cause: this.cause });
  }
}

export class Reader {
  offset = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Ensure `n` more bytes exist; throws `truncated` otherwise. */
  need(n: number, what: string): void {
    if (n > this.remaining) throw new DecodeError('truncated', '', `${what} needs ${n} bytes, ${this.remaining} left`);
  }

  /** A view into the input (no copy): it stays valid as long as the input does. */
  take(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Make room for `n` more bytes and return the offset to write them at. */
  reserve(n: number): number {
    const needed = this.length + n;
    if (needed > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < needed) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length = needed;
    return at;
  }

  get dataView(): DataView {
    return this.view;
  }

  bytesAt(at: number, n: number): Uint8Array {
    return this.buf.subarray(at, at + n);
  }

  write(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export interface Codec<T> {
  /** Human name used in error paths and docs. */
  readonly name: string;
  /** Byte size when it is the same for every value. */
  readonly fixedSize?: number;
  /** Smallest encoding of any value, when larger than one byte: lets a vector reject a count that cannot fit before allocating. */
  readonly minSize?: number;
  write(w: Writer, value: T): void;
  read(r: Reader): T;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

/** Encode a value on its own. */
export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const w = new Writer(codec.fixedSize ?? 256);
  codec.write(w, value);
  return w.finish();
}

/** Decode a whole buffer strictly: every byte must be consumed. */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array): T {
  const r = new Reader(bytes);
  const value = codec.read(r);
  if (r.remaining !== 0) {
    throw new DecodeError('trailing-bytes', '', `${codec.name}: ${r.remaining} bytes left after decoding`);
  }
  return value;
}
