/**
 * The handful of primitives every Bitcoin message is built from. Each count- or
 * length-prefixed field takes a named maximum that is checked before anything is
 * allocated: lengths from a peer are never trusted.
 */
import { type Codec, DecodeError, type Reader, toBigint, type Writer } from './codec.js';

function fixedInt<T>(
  name: string,
  size: number,
  get: (r: Reader, at: number) => T,
  set: (v: DataView, at: number, value: T) => void,
): Codec<T> {
  return {
    name,
    fixedSize: size,
    read(r: Reader): T {
      r.need(size, name);
      const value = get(r, r.offset);
      r.offset += size;
      return value;
    },
    write(w: Writer, value: T): void {
      const at = w.reserve(size);
      set(w.dataView, at, value);
    },
  };
}

export const u8 = fixedInt<number>(
  'u8',
  1,
  (r, at) => r.bytes[at]!,
  (v, at, x) => v.setUint8(at, x),
);
export const u16le = fixedInt<number>(
  'u16le',
  2,
  (r, at) => r.bytes[at]! | (r.bytes[at + 1]! << 8),
  (v, at, x) => v.setUint16(at, x, true),
);
/** Ports in network addresses are big-endian. */
export const u16be = fixedInt<number>(
  'u16be',
  2,
  (r, at) => r.u16beAt(at),
  (v, at, x) => v.setUint16(at, x, false),
);
export const u32le = fixedInt<number>(
  'u32le',
  4,
  (r, at) => r.u32At(at),
  (v, at, x) => v.setUint32(at, x, true),
);
export const i32le = fixedInt<number>(
  'i32le',
  4,
  (r, at) => r.i32At(at),
  (v, at, x) => v.setInt32(at, x, true),
);
/** 64-bit values are bigint so they stay exact. */
export const u64le = fixedInt<bigint>(
  'u64le',
  8,
  (r, at) => r.u64At(at),
  (v, at, x) => v.setBigUint64(at, x, true),
);
export const i64le = fixedInt<bigint>(
  'i64le',
  8,
  (r, at) => r.i64At(at),
  (v, at, x) => v.setBigInt64(at, x, true),
);

export const bool: Codec<boolean> = {
  name: 'bool',
  fixedSize: 1,
  read(r) {
    r.need(1, 'bool');
    const b = r.bytes[r.offset]!;
    // Core reads any non-zero byte as true; only 0 and 1 are canonical, so anything else
    // is reported (decode stays the inverse of encode).
    if (b > 1) throw new DecodeError('invalid-value', '', `bool byte ${b}, expected 0 or 1`);
    r.offset++;
    return b === 1;
  },
  write(w, value) {
    const at = w.reserve(1);
    w.dataView.setUint8(at, value ? 1 : 0);
  },
};

/** CompactSize, strict (see `Reader.compactSize`). */
export const compactSize: Codec<number> = {
  name: 'compactSize',
  read(r) {
    return r.compactSize();
  },
  write(w, value) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`compactSize out of range: ${value}`);
    if (value < 0xfd) {
      const at = w.reserve(1);
      w.dataView.setUint8(at, value);
    } else if (value <= 0xffff) {
      const at = w.reserve(3);
      w.dataView.setUint8(at, 0xfd);
      w.dataView.setUint16(at + 1, value, true);
    } else if (value <= 0xffffffff) {
      const at = w.reserve(5);
      w.dataView.setUint8(at, 0xfe);
      w.dataView.setUint32(at + 1, value, true);
    } else {
      const at = w.reserve(9);
      w.dataView.setUint8(at, 0xff);
      w.dataView.setBigUint64(at + 1, BigInt(value), true);
    }
  },
};

/**
 * CompactSize as a bigint covering the full 64-bit range (BIP155 addrv2 services),
 * equally strict about minimal encoding.
 */
export const compactSizeBig: Codec<bigint> = {
  name: 'compactSize64',
  read(r) {
    r.need(1, 'compactSize');
    const first = r.bytes[r.offset]!;
    if (first !== 0xff) return toBigint(r.compactSize());
    r.need(9, 'compactSize');
    const value = r.u64At(r.offset + 1);
    if (value < 0x100000000n) throw new DecodeError('non-minimal-compact-size', '', `${value} encoded in 9 bytes`);
    r.offset += 9;
    return value;
  },
  write(w, value) {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`compactSize out of range: ${value}`);
    if (value <= 0xffffffffn) {
      compactSize.write(w, Number(value));
      return;
    }
    const at = w.reserve(9);
    w.dataView.setUint8(at, 0xff);
    w.dataView.setBigUint64(at + 1, value, true);
  },
};

/** Exactly `n` bytes (hashes, keys, fixed addresses). Decoded as a view, not a copy. */
export function bytes(n: number, name = `bytes${n}`): Codec<Uint8Array> {
  return {
    name,
    fixedSize: n,
    read(r) {
      return r.take(n, name);
    },
    write(w, value) {
      if (value.length !== n) throw new RangeError(`${name}: expected ${n} bytes, got ${value.length}`);
      w.write(value);
    },
  };
}

export const hash256 = bytes(32, 'hash256');

/** CompactSize-prefixed bytes with a named maximum length. */
export function varBytes(max: number, name = 'varBytes'): Codec<Uint8Array> {
  return {
    name,
    read(r) {
      const n = compactSize.read(r);
      if (n > max) throw new DecodeError('too-large', '', `${name}: ${n} bytes > maximum ${max}`);
      return r.take(n, name);
    },
    write(w, value) {
      compactSize.write(w, value.length);
      w.write(value);
    },
  };
}

const latin1 = new TextDecoder('latin1');

/**
 * CompactSize-prefixed string with a named maximum. Peers send arbitrary bytes
 * here; they are decoded byte-for-byte (latin1) so nothing is lost or replaced,
 * and encoding writes each char code back as one byte.
 */
export function varString(max: number, name = 'varString'): Codec<string> {
  const raw = varBytes(max, name);
  return {
    name,
    read(r) {
      return latin1.decode(raw.read(r));
    },
    write(w, value) {
      const out = new Uint8Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c > 0xff) throw new RangeError(`${name}: char ${c} does not fit one byte`);
        out[i] = c;
      }
      raw.write(w, out);
    },
  };
}

/** CompactSize-counted vector with a named maximum count. */
export function vector<T>(item: Codec<T>, max: number, name = `${item.name}[]`): Codec<T[]> {
  return {
    name,
    read(r) {
      // Each item takes at least one byte: a count larger than what is left is a lie.
      const n = r.count(max, item.fixedSize ?? item.minSize ?? 1, name);
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) {
        try {
          out[i] = item.read(r);
        } catch (e) {
          throw e instanceof DecodeError ? e.within(`[${i}]`) : e;
        }
      }
      return out;
    },
    write(w, values) {
      if (values.length > max) throw new RangeError(`${name}: ${values.length} items > maximum ${max}`);
      compactSize.write(w, values.length);
      for (const v of values) item.write(w, v);
    },
  };
}

type Fields<T> = { [K in keyof T]: Codec<T[K]> };

/** Fields in order, like a BIP table. Error paths name the failing field. */
export function struct<T extends object>(name: string, fields: Fields<T>): Codec<T> {
  const entries = Object.entries(fields) as [keyof T & string, Codec<unknown>][];
  let fixedSize: number | undefined = 0;
  for (const [, c] of entries) fixedSize = fixedSize !== undefined && c.fixedSize !== undefined ? fixedSize + c.fixedSize : undefined;
  return {
    name,
    ...(fixedSize !== undefined ? { fixedSize } : {}),
    read(r) {
      const out = {} as Record<string, unknown>;
      for (const [key, codec] of entries) {
        try {
          out[key] = codec.read(r);
        } catch (e) {
          throw e instanceof DecodeError ? e.within(key) : e;
        }
      }
      return out as T;
    },
    write(w, value) {
      for (const [key, codec] of entries) codec.write(w, value[key]);
    },
  };
}

/** Map a codec's value to another representation (e.g. bytes to an enum). */
export function mapped<A, B>(inner: Codec<A>, name: string, to: (a: A) => B, from: (b: B) => A): Codec<B> {
  return {
    name,
    ...(inner.fixedSize !== undefined ? { fixedSize: inner.fixedSize } : {}),
    read(r) {
      return to(inner.read(r));
    },
    write(w, value) {
      inner.write(w, from(value));
    },
  };
}

/** A message with no payload (verack, getaddr, sendheaders, ...). */
export const empty: Codec<Record<string, never>> = {
  name: 'empty',
  fixedSize: 0,
  read() {
    return {};
  },
  write() {},
};

/** The parts one after another, in one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
