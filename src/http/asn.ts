/**
 * IP → ASN for the dashboard's "connections by ASN" view, from a file the
 * operator supplies: a Bitcoin Core asmap file (`--asmap`, the `-asmap=` file
 * Core reads) or a MaxMind-format ASN database (`--geoip-asn`, GeoLite2-ASN
 * .mmdb or any mmdb with `autonomous_system_number`).
 *
 * The asmap format (Bitcoin Core src/util/asmap.cpp) is a small program over the
 * 128 bits of an IPv6 address (IPv4 as ::ffff:a.b.c.d), read most significant
 * bit first. The program's own bits are read least significant bit first within
 * each byte. Four instructions, each a variable-length integer "(minval,
 * bit_sizes)" code: a size class is chosen by a run of 1-bits (one bit per class
 * but the last), then that class's bits follow, most significant first.
 *   type:    RETURN 0 | JUMP 1 | MATCH 2 | DEFAULT 3       classes {0, 0, 1}
 *   RETURN asn     → answer asn                            asn: min 1, classes {15..24}
 *   JUMP off       → take one IP bit; if 1, skip `off` bits of program; min 17, {5..30}
 *   MATCH m        → the IP's next bitlen(m)-1 bits must equal m's low bits,
 *                    else answer the current default;     min 2, {1..8}
 *   DEFAULT asn    → the answer if a later MATCH fails
 * Unmapped space answers 0 (we report null). Before use the whole program is
 * checked (every jump in bounds and nested, every path ends in RETURN within
 * 128 bits, at most 7 zero bits of padding), so a bad file is refused at start
 * rather than answering garbage.
 */
import { readFileSync } from 'node:fs';
import { Reader, type AsnResponse } from 'mmdb-lib';
import { ip16, ipOfRemote } from '../net/remote.js';

const INVALID = -1;
const TYPE_BITS = [0, 0, 1];
const ASN_BITS = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
const MATCH_BITS = [1, 2, 3, 4, 5, 6, 7, 8];
const JUMP_BITS = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30];
const RETURN = 0;
const JUMP = 1;
const MATCH = 2;
const DEFAULT = 3;
/** Core refuses asmap files over 8 MiB... its own check is on bits; we bound the read. */
export const MAX_ASMAP_BYTES = 64 * 1024 * 1024;

class Program {
  pos = 0;
  readonly end: number;
  constructor(readonly bytes: Uint8Array) {
    this.end = bytes.length * 8;
  }

  bit(): number {
    const p = this.pos++;
    return (this.bytes[p >>> 3]! >>> (p & 7)) & 1;
  }

  /** Core's DecodeBits: INVALID when the program ends mid-number. */
  decode(minval: number, sizes: readonly number[]): number {
    let val = minval;
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      let bit = 0;
      if (i + 1 < sizes.length) {
        if (this.pos >= this.end) return INVALID;
        bit = this.bit();
      }
      if (bit) {
        val += 2 ** size;
        continue;
      }
      for (let b = 0; b < size; b++) {
        if (this.pos >= this.end) return INVALID;
        val += this.bit() * 2 ** (size - 1 - b);
      }
      return val;
    }
    return INVALID;
  }
}

function ipBit(ip: Uint8Array, i: number): number {
  return (ip[i >>> 3]! >>> (7 - (i & 7))) & 1;
}

/** Run the asmap program on a 16-byte address: the ASN, or 0 when unmapped. Throws on a program that is not valid. */
export function interpretAsmap(asmap: Uint8Array, ip: Uint8Array): number {
  if (ip.length !== 16) throw new RangeError('expected a 16-byte address');
  const p = new Program(asmap);
  let bitsLeft = 128;
  let defaultAsn = 0;
  while (p.pos < p.end) {
    const op = p.decode(0, TYPE_BITS);
    if (op === RETURN) {
      const asn = p.decode(1, ASN_BITS);
      if (asn === INVALID) break;
      return asn;
    } else if (op === JUMP) {
      const jump = p.decode(17, JUMP_BITS);
      if (jump === INVALID || bitsLeft === 0 || jump >= p.end - p.pos) break;
      if (ipBit(ip, 128 - bitsLeft)) p.pos += jump;
      bitsLeft--;
    } else if (op === MATCH) {
      const match = p.decode(2, MATCH_BITS);
      if (match === INVALID) break;
      const len = Math.floor(Math.log2(match));
      if (bitsLeft < len) break;
      for (let b = 0; b < len; b++) {
        if (ipBit(ip, 128 - bitsLeft) !== Math.floor(match / 2 ** (len - 1 - b)) % 2) return defaultAsn;
        bitsLeft--;
      }
    } else if (op === DEFAULT) {
      defaultAsn = p.decode(1, ASN_BITS);
      if (defaultAsn === INVALID) break;
    } else break;
  }
  throw new Error('asmap: the program ended without an answer');
}

/**
 * Check the whole program once (linear): the same walk as interpretAsmap over
 * every path. A JUMP's fall-through code must end exactly where its target
 * starts (Core lays the two subtrees out one after the other), targets nest,
 * every path ends in RETURN, no path reads more than 128 address bits, and
 * what follows the last RETURN is at most 7 zero bits of padding.
 * Returns undefined when valid, else why not.
 */
export function checkAsmap(asmap: Uint8Array): string | undefined {
  const p = new Program(asmap);
  /** Pending jump targets (bit positions) and the address bits left there. */
  const jumps: { target: number; bitsLeft: number }[] = [];
  let bitsLeft = 128;
  let instructions = 0;
  while (p.pos < p.end) {
    const at = p.pos;
    if (jumps.length && at > jumps[jumps.length - 1]!.target) return `code at bit ${at} runs past a jump target`;
    const op = p.decode(0, TYPE_BITS);
    if (op === INVALID) return `truncated instruction at bit ${at}`;
    instructions++;
    if (op === RETURN) {
      if (p.decode(1, ASN_BITS) === INVALID) return `truncated RETURN at bit ${at}`;
      const next = jumps.pop();
      if (!next) {
        const rest = p.end - p.pos;
        if (rest > 7) return `${rest} bits after the last RETURN (at most 7 bits of padding)`;
        while (p.pos < p.end) if (p.bit()) return 'padding bits after the last RETURN are not zero';
        return undefined;
      }
      if (p.pos !== next.target) return `a jump at bit ${at} does not land where its other branch ends`;
      bitsLeft = next.bitsLeft;
    } else if (op === JUMP) {
      const jump = p.decode(17, JUMP_BITS);
      if (jump === INVALID) return `truncated JUMP at bit ${at}`;
      if (bitsLeft === 0) return `JUMP at bit ${at} needs more than 128 address bits`;
      const target = p.pos + jump;
      if (target >= p.end) return `JUMP at bit ${at} lands outside the file`;
      if (jumps.length && target >= jumps[jumps.length - 1]!.target) return `JUMP at bit ${at} crosses an enclosing jump`;
      bitsLeft--;
      jumps.push({ target, bitsLeft });
    } else if (op === MATCH) {
      const match = p.decode(2, MATCH_BITS);
      if (match === INVALID) return `truncated MATCH at bit ${at}`;
      const len = Math.floor(Math.log2(match));
      if (len > bitsLeft) return `MATCH at bit ${at} needs more than 128 address bits`;
      bitsLeft -= len;
    } else if (op === DEFAULT) {
      if (p.decode(1, ASN_BITS) === INVALID) return `truncated DEFAULT at bit ${at}`;
    }
  }
  return instructions === 0 ? 'empty file' : 'the program ends without RETURN';
}

export interface AsnLookup {
  /** `asmap FILE` or `geoip-asn FILE`. */
  readonly source: string;
  /** The ASN of `ip:port` / `[v6]:port` / an IP, or null (unmapped, not an IP). */
  lookup(remote: string): number | null;
}

export function asmapLookup(bytes: Uint8Array, label = 'asmap'): AsnLookup {
  const why = checkAsmap(bytes);
  if (why) throw new Error(`${label}: not a valid asmap file: ${why}`);
  const cache = new Map<string, number | null>();
  return {
    source: label,
    lookup(remote) {
      const ipText = ipOfRemote(remote);
      const hit = cache.get(ipText);
      if (hit !== undefined) return hit;
      const ip = ip16(ipText);
      const asn = ip ? interpretAsmap(bytes, ip) || null : null;
      if (cache.size >= 50_000) cache.clear();
      cache.set(ipText, asn);
      return asn;
    },
  };
}

export function loadAsmap(path: string): AsnLookup {
  return asmapLookup(readBounded(path, '--asmap'), `asmap ${path}`);
}

export function loadGeoipAsn(path: string): AsnLookup {
  const bytes = readBounded(path, '--geoip-asn');
  let reader: Reader<AsnResponse>;
  try {
    reader = new Reader<AsnResponse>(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new Error(`--geoip-asn ${path}: not a MaxMind database (${err instanceof Error ? err.message : String(err)})`);
  }
  return {
    source: `geoip-asn ${path}`,
    lookup(remote) {
      try {
        const r = reader.get(ipOfRemote(remote));
        return typeof r?.autonomous_system_number === 'number' ? r.autonomous_system_number : null;
      } catch {
        return null;
      }
    },
  };
}

function readBounded(path: string, flag: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
  if (bytes.length > MAX_ASMAP_BYTES) throw new Error(`${flag} ${path}: larger than ${MAX_ASMAP_BYTES} bytes`);
  return bytes;
}
