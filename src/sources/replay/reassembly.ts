/**
 * TCP reassembly of one direction of one flow, by sequence number: SYN sets the
 * initial sequence number; without one (a capture that starts mid-stream) the
 * first segment seen starts the stream. Retransmitted and overlapping bytes are
 * delivered once; segments that arrive ahead of a hole wait in a reorder buffer
 * bounded in bytes and segments. When the buffer is full the hole is given up:
 * its length is reported as a gap and delivery goes on from the first buffered
 * segment. Sequence numbers wrap modulo 2^32; stream offsets are plain numbers.
 */

export interface ReorderLimits {
  /** Payload bytes held ahead of a hole (per direction). */
  maxReorderBytes: number;
  /** Segments held ahead of a hole (per direction): bounds the work per insert. */
  maxReorderSegments: number;
}

export const DEFAULT_REORDER_LIMITS: ReorderLimits = Object.freeze({ maxReorderBytes: 1 << 20, maxReorderSegments: 1024 });

/** In stream order: bytes, or a hole of `length` bytes that will never be filled. */
export type StreamChunk = { type: 'data'; bytes: Uint8Array } | { type: 'gap'; length: number };

export interface ReassemblyCounters {
  /** Segments that arrived ahead of the next expected byte. */
  outOfOrder: number;
  /** Payload bytes seen again (retransmissions, duplicates, overlaps). */
  duplicateBytes: number;
  /** Holes given up (buffer full, stream end, snaplen-cut payload). */
  gaps: number;
  gapBytes: number;
  /** Buffered bytes thrown away after the FIN (data claimed beyond the stream's end). */
  droppedBytes: number;
}

interface Pending {
  offset: number;
  length: number;
  /** Undefined: the capture lost these bytes (snaplen cut). */
  data: Uint8Array | undefined;
}

const U32 = 4294967296;

export class StreamReassembler {
  readonly counters: ReassemblyCounters = { outOfOrder: 0, duplicateBytes: 0, gaps: 0, gapBytes: 0, droppedBytes: 0 };
  /** Sequence number of stream offset 0; undefined until the first SYN or segment. */
  private base: number | undefined;
  /** True when the stream started without a SYN: offset 0 is somewhere mid-stream. */
  midStream = false;
  /** Next stream offset to deliver (everything before it was delivered or given up). */
  delivered = 0;
  /** Stream offset of the FIN, once seen. */
  finOffset: number | undefined;
  /** Payload bytes currently held in the reorder buffer. */
  bufferedBytes = 0;
  private readonly pending: Pending[] = [];

  constructor(private readonly limits: ReorderLimits = DEFAULT_REORDER_LIMITS) {}

  get started(): boolean {
    return this.base !== undefined;
  }

  /** The initial sequence number (SYN's), when a SYN started the stream. */
  get isn(): number | undefined {
    return this.base === undefined || this.midStream ? undefined : (this.base + U32 - 1) % U32;
  }

  /** All data up to the FIN has been delivered. */
  get finished(): boolean {
    return this.finOffset !== undefined && this.delivered >= this.finOffset;
  }

  get pendingSegments(): number {
    return this.pending.length;
  }

  /** A SYN: the stream starts at isn + 1. Ignored once the stream has started. */
  syn(isn: number): void {
    if (this.base !== undefined) return;
    this.base = (isn + 1) % U32;
  }

  /**
   * One segment: `length` payload bytes at sequence number `seq` (`data` undefined
   * when the capture did not keep them). Returns what became deliverable, in order.
   * The caller may keep the returned views; buffered data is copied.
   */
  segment(seq: number, length: number, data: Uint8Array | undefined, fin = false): StreamChunk[] {
    if (this.base === undefined) {
      this.base = seq >>> 0;
      this.midStream = true;
    }
    const expected = (this.base + this.delivered) % U32;
    const offset = this.delivered + ((seq - expected) | 0);
    const end = offset + length;
    if (fin && this.finOffset === undefined && end >= this.delivered) this.finOffset = end;
    const out: StreamChunk[] = [];
    if (length === 0) return this.afterFin(out);
    if (end <= this.delivered) {
      this.counters.duplicateBytes += length;
      return out;
    }
    if (offset <= this.delivered) {
      this.deliver(out, { offset, length, data });
      this.drain(out);
      return this.afterFin(out);
    }
    this.counters.outOfOrder++;
    this.insert({ offset, length, data: data?.slice() });
    while (
      this.pending.length > 0 &&
      (this.bufferedBytes > this.limits.maxReorderBytes || this.pending.length > this.limits.maxReorderSegments)
    ) {
      this.skipHole(out);
    }
    return this.afterFin(out);
  }

  /** Give up every hole and deliver all that is buffered (stream end, reset, eviction). */
  flush(): StreamChunk[] {
    const out: StreamChunk[] = [];
    while (this.pending.length > 0) this.skipHole(out);
    return this.afterFin(out);
  }

  private afterFin(out: StreamChunk[]): StreamChunk[] {
    if (this.finished && this.pending.length > 0) {
      for (const p of this.pending) this.counters.droppedBytes += p.data ? p.data.length : 0;
      this.pending.length = 0;
      this.bufferedBytes = 0;
    }
    return out;
  }

  /** Deliver the part of `p` from `delivered` on (p starts at or before it). */
  private deliver(out: StreamChunk[], p: Pending): void {
    const end = p.offset + p.length;
    const skip = this.delivered - p.offset;
    if (skip > 0) this.counters.duplicateBytes += skip;
    if (p.data === undefined) {
      this.counters.gaps++;
      this.counters.gapBytes += end - this.delivered;
      out.push({ type: 'gap', length: end - this.delivered });
    } else {
      out.push({ type: 'data', bytes: skip > 0 ? p.data.subarray(skip) : p.data });
    }
    this.delivered = end;
  }

  /** Deliver buffered segments that now start at or before `delivered`. */
  private drain(out: StreamChunk[]): void {
    while (this.pending.length > 0 && this.pending[0]!.offset <= this.delivered) {
      const p = this.pending.shift()!;
      this.bufferedBytes -= p.data ? p.data.length : 0;
      if (p.offset + p.length <= this.delivered) this.counters.duplicateBytes += p.length;
      else this.deliver(out, p);
    }
  }

  /** Give up the hole before the first buffered segment and deliver from there. */
  private skipHole(out: StreamChunk[]): void {
    const first = this.pending[0]!;
    if (first.offset > this.delivered) {
      const length = first.offset - this.delivered;
      this.counters.gaps++;
      this.counters.gapBytes += length;
      out.push({ type: 'gap', length });
      this.delivered = first.offset;
    }
    this.drain(out);
  }

  private insert(p: Pending): void {
    const list = this.pending;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.offset < p.offset) lo = mid + 1;
      else hi = mid;
    }
    const same = list[lo];
    if (same !== undefined && same.offset === p.offset && same.length >= p.length && (same.data !== undefined || p.data === undefined)) {
      this.counters.duplicateBytes += p.length;
      return;
    }
    list.splice(lo, 0, p);
    this.bufferedBytes += p.data ? p.data.length : 0;
  }
}
