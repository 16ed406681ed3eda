/**
 * Publisher sequence numbers for the NATS bus, carried in a NATS header (not in
 * the event): `Nats-Msg-Id: <publisher id>.<seq>`, the seq of a batch's first
 * event (the batch's events have consecutive seqs, its size in BATCH_HEADER). The publisher id is random
 * per NatsBus instance; seq counts from 1. A publisher re-sends what the server
 * had not acknowledged when a connection died, so a consumer may see an event
 * twice; `Dedup` tells the second copy apart. The header name is the one
 * JetStream de-duplicates on, so a stream added later de-duplicates too.
 */

export const SEQ_HEADER = 'Nats-Msg-Id';

/**
 * Marks a message as a batch and says how it is encoded: `v2 <count>` is
 * `count` events as one MessagePack array (events/packed.ts), `v1 <count>`
 * `count` events as NDJSON (events/wire.ts); their seqs are `seq … seq + count − 1`,
 * `seq` being the one in SEQ_HEADER. A message without it is one JSON event
 * (the first wire format; what `nats pub` by hand sends).
 */
export const BATCH_HEADER = 'Po-Batch';
/** Most events in one batch a subscriber accepts (a publisher sends at most DEFAULT_BATCH_EVENTS unless told otherwise). */
export const MAX_BATCH_EVENTS = 100_000;

/** How a batch's events are encoded: `msgpack` (format v2, the default) or `json` (v1, NDJSON, readable by any tool). */
export type BatchEncoding = 'msgpack' | 'json';
export const BATCH_ENCODINGS: readonly BatchEncoding[] = ['msgpack', 'json'];

const VERSION: Record<BatchEncoding, string> = { json: 'v1', msgpack: 'v2' };

export function formatBatch(encoding: BatchEncoding, count: number): string {
  return `${VERSION[encoding]} ${count}`;
}

/** The encoding and event count of a `v1`/`v2` batch header, or undefined for anything else. */
export function parseBatch(value: string): { encoding: BatchEncoding; count: number } | undefined {
  const encoding = value.startsWith('v2 ') ? 'msgpack' : value.startsWith('v1 ') ? 'json' : undefined;
  if (!encoding) return undefined;
  const n = Number(value.slice(3));
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_BATCH_EVENTS ? { encoding, count: n } : undefined;
}

/** How far below the highest seq seen a late event is still recognised (not a duplicate, not lost). */
export const SEQ_WINDOW = 65_536;

export function formatSeq(publisher: string, seq: number): string {
  return `${publisher}.${seq}`;
}

/** `[publisher, seq]`, or undefined for anything that is not ours (then it is not de-duplicated). */
export function parseSeq(value: string): [string, number] | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const seq = Number(value.slice(dot + 1));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return [value.slice(0, dot), seq];
}

/** Which seqs of one publisher were seen: the highest, and a bitmap of the SEQ_WINDOW below it. */
class Window {
  highest = 0;
  readonly bits = new Uint32Array(SEQ_WINDOW / 32);

  private has(seq: number): boolean {
    const i = seq % SEQ_WINDOW;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  private set(seq: number, on: boolean): void {
    const i = seq % SEQ_WINDOW;
    if (on) this.bits[i >>> 5]! |= 1 << (i & 31);
    else this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** True the first time `seq` is seen. */
  first(seq: number): boolean {
    if (seq > this.highest) {
      // The slots between the old and the new highest held seqs that just left the window.
      if (seq - this.highest >= SEQ_WINDOW) this.bits.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.set(s, false);
      this.highest = seq;
      this.set(seq, true);
      return true;
    }
    if (this.highest - seq >= SEQ_WINDOW || this.has(seq)) return false;
    this.set(seq, true);
    return true;
  }
}

/**
 * Duplicate detection for one subscription. Events of one publisher arrive in
 * seq order except around a fail-over (two paths through a cluster), hence a
 * window rather than only the highest seq. At most `maxPublishers` publishers
 * are tracked (the oldest is forgotten: its next event is taken as new).
 */
export class Dedup {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly maxPublishers = 1024) {}

  first(publisher: string, seq: number): boolean {
    let w = this.windows.get(publisher);
    if (!w) {
      if (this.windows.size >= this.maxPublishers) this.windows.delete(this.windows.keys().next().value!);
      w = new Window();
      this.windows.set(publisher, w);
    }
    return w.first(seq);
  }
}
