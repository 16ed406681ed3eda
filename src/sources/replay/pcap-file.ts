/**
 * Classic libpcap files, read in chunks (never whole into memory): both byte
 * orders, microsecond (a1b2c3d4) and nanosecond (a1b23c4d) timestamps. pcapng is
 * recognised and refused with a clear error (convert with `editcap -F pcap`).
 *
 * Hostile files are the normal case: a record whose captured length is above
 * `maxRecordLength` (or above its own original length) is never allocated — the
 * file is corrupt from there, so reading stops and the reason is reported; a file
 * that ends inside a record header or body is reported as truncated. Only a file
 * that cannot be a pcap at all (bad magic, pcapng, unsupported version) throws
 * `PcapFormatError`, before any record is read.
 */
import { open } from 'node:fs/promises';

export const PCAP_GLOBAL_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;
/** tcpdump's default snaplen; a larger captured length is treated as corruption. */
export const DEFAULT_MAX_RECORD_LENGTH = 262_144;
const READ_CHUNK = 1 << 20;

export class PcapFormatError extends Error {
  override readonly name = 'PcapFormatError';
}

export interface PcapHeader {
  littleEndian: boolean;
  nanoseconds: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  linkType: number;
}

export interface PcapRecord {
  /** Capture time, microseconds since the Unix epoch. */
  timeUs: number;
  /** The captured bytes (incl_len of them). */
  data: Uint8Array;
  /** The packet's length on the wire; larger than data.length when snaplen cut it. */
  origLen: number;
}

/** Why reading stopped before the end of the file, if it did. */
export interface PcapReadProblem {
  kind: 'truncated-header' | 'truncated-record' | 'record-too-long';
  detail: string;
  /** Byte offset of the record in the file. */
  offset: number;
}

export function parsePcapHeader(bytes: Uint8Array, path = 'input'): PcapHeader {
  if (bytes.length < 4) throw new PcapFormatError(`${path}: ${bytes.length} bytes, too short for a pcap file (24-byte header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const be = view.getUint32(0, false);
  if (be === 0x0a0d0d0a) {
    throw new PcapFormatError(`${path}: pcapng is not supported, only classic pcap (convert with: editcap -F pcap in.pcapng out.pcap)`);
  }
  let littleEndian: boolean;
  let nanoseconds: boolean;
  if (be === 0xa1b2c3d4 || be === 0xa1b23c4d) {
    littleEndian = false;
    nanoseconds = be === 0xa1b23c4d;
  } else if (be === 0xd4c3b2a1 || be === 0x4d3cb2a1) {
    littleEndian = true;
    nanoseconds = be === 0x4d3cb2a1;
  } else {
    throw new PcapFormatError(`${path}: not a pcap file (magic ${be.toString(16).padStart(8, '0')})`);
  }
  if (bytes.length < PCAP_GLOBAL_HEADER) throw new PcapFormatError(`${path}: truncated pcap header (${bytes.length} of 24 bytes)`);
  const versionMajor = view.getUint16(4, littleEndian);
  const versionMinor = view.getUint16(6, littleEndian);
  if (versionMajor !== 2) throw new PcapFormatError(`${path}: pcap version ${versionMajor}.${versionMinor} not supported (expected 2.x)`);
  return {
    littleEndian,
    nanoseconds,
    versionMajor,
    versionMinor,
    snaplen: view.getUint32(16, littleEndian),
    // The upper bits carry FCS information (pcap spec); the link type is the low 16.
    linkType: view.getUint32(20, littleEndian) & 0xffff,
  };
}

export interface PcapReaderOptions {
  /** Largest captured length accepted for one record (default 262,144). */
  maxRecordLength?: number;
  /** Bytes per file read (default 1 MiB); small values exercise record splitting in tests. */
  chunkSize?: number;
}

/**
 * A pcap file as records. `header` is set once the global header has been read
 * (the first `next()`); `problem` once reading stopped early; `bytesRead` counts
 * the file bytes consumed.
 */
export class PcapReader implements AsyncIterable<PcapRecord> {
  header: PcapHeader | undefined;
  problem: PcapReadProblem | undefined;
  bytesRead = 0;
  private readonly maxRecordLength: number;
  private readonly chunkSize: number;

  constructor(
    readonly path: string,
    options: PcapReaderOptions = {},
  ) {
    this.maxRecordLength = options.maxRecordLength ?? DEFAULT_MAX_RECORD_LENGTH;
    this.chunkSize = Math.max(64, options.chunkSize ?? READ_CHUNK);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PcapRecord> {
    const file = await open(this.path, 'r');
    try {
      // Bytes read from the file but not yet consumed: `buf[pos..end)`.
      let buf: Uint8Array = new Uint8Array(0);
      let pos = 0;
      let eof = false;
      let fileOffset = 0; // file offset of buf[pos]
      const fill = async (need: number): Promise<boolean> => {
        while (buf.length - pos < need && !eof) {
          const rest = buf.subarray(pos);
          // A fresh buffer per read: records handed out as views stay valid.
          const next = new Uint8Array(rest.length + Math.max(this.chunkSize, need - rest.length));
          next.set(rest);
          const { bytesRead } = await file.read(next, rest.length, next.length - rest.length, null);
          if (bytesRead === 0) eof = true;
          buf = next.subarray(0, rest.length + bytesRead);
          pos = 0;
        }
        return buf.length - pos >= need;
      };
      const take = (n: number): Uint8Array => {
        const out = buf.subarray(pos, pos + n);
        pos += n;
        fileOffset += n;
        this.bytesRead += n;
        return out;
      };

      await fill(PCAP_GLOBAL_HEADER);
      const header = parsePcapHeader(buf.subarray(pos, Math.min(buf.length, pos + PCAP_GLOBAL_HEADER)), this.path);
      this.header = header;
      take(PCAP_GLOBAL_HEADER);
      const le = header.littleEndian;
      const divisor = header.nanoseconds ? 1000 : 1;

      for (;;) {
        const recordOffset = fileOffset;
        if (!(await fill(PCAP_RECORD_HEADER))) {
          if (buf.length - pos > 0) {
            this.problem = {
              kind: 'truncated-header',
              detail: `file ends ${buf.length - pos} bytes into a 16-byte record header`,
              offset: recordOffset,
            };
          }
          return;
        }
        const h = take(PCAP_RECORD_HEADER);
        const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
        const sec = view.getUint32(0, le);
        const frac = view.getUint32(4, le);
        const inclLen = view.getUint32(8, le);
        const origLen = view.getUint32(12, le);
        if (inclLen > this.maxRecordLength) {
          this.problem = {
            kind: 'record-too-long',
            detail: `record claims ${inclLen} captured bytes > maximum ${this.maxRecordLength}: file corrupt from here`,
            offset: recordOffset,
          };
          return;
        }
        if (!(await fill(inclLen))) {
          this.problem = {
            kind: 'truncated-record',
            detail: `file ends ${buf.length - pos} bytes into a ${inclLen}-byte record`,
            offset: recordOffset,
          };
          return;
        }
        const data = take(inclLen);
        yield { timeUs: sec * 1_000_000 + Math.floor(frac / divisor), data, origLen: Math.max(origLen, inclLen) };
      }
    } finally {
      await file.close();
    }
  }
}
