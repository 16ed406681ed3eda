/**
 * Publisher sequence numbers for the NATS bus, carried in a NATS header (not in
 * the event): `Nats-Msg-Id: <node token>.<publisher id>.<seq>`, the seq of a
 * batch's first event (the batch's events have consecutive seqs, its size in
 * BATCH_HEADER). The publisher id is random per NatsBus instance; seq counts
 * from 1 (one counter over all the nodes and types a publisher sends). A publisher re-sends what the server
 * had not acknowledged when a connection died, so a consumer may see an event
 * twice; `Dedup` tells the second copy apart. The header name is the one
 * JetStream de-duplicates on (its duplicate window, jetstream.ts).
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

/**
 * `<node token>.<publisher>.<seq>`: every publisher's ids sit under the node it
 * publishes for, so one node's publisher cannot name another's ids (a
 * consumer refuses an id whose node is not its subject's, and scopes its
 * duplicate windows by the subject's node): see docs/bus.md, "Identity".
 */
export function formatSeq(nodeToken: string, publisher: string, seq: number): string {
  return `${nodeToken}.${publisher}.${seq}`;
}

export interface ParsedSeq {
  /** The node token the id claims (absent in the first id format, `<publisher>.<seq>`). */
  node: string | undefined;
  publisher: string;
  seq: number;
}

/** The parts of a `Nats-Msg-Id`, or undefined for anything that is not ours (then it is not de-duplicated). */
export function parseSeq(value: string): ParsedSeq | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const seq = Number(value.slice(dot + 1));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  const head = value.slice(0, dot);
  const first = head.indexOf('.');
  if (first < 0) return { node: undefined, publisher: head, seq };
  if (first === 0 || first === head.length - 1) return undefined;
  return { node: head.slice(0, first), publisher: head.slice(first + 1), seq };
}

/** Which seqs of one publisher were seen: the highest, and a bitmap of the SEQ_WINDOW below it. */
export class Window {
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

  /**
   * True the first time `seq` is seen, and for a seq too far below the highest
   * to tell (`late`): a seq ahead is never trusted to silence what follows, so
   * a forged huge seq costs at most the de-duplication of that scope, never an
   * event.
   */
  first(seq: number): boolean | 'late' {
    if (seq > this.highest) {
      // The slots between the old and the new highest held seqs that just left the window.
      if (seq - this.highest >= SEQ_WINDOW) this.bits.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.set(s, false);
      this.highest = seq;
      this.set(seq, true);
      return true;
    }
    if (this.highest - seq >= SEQ_WINDOW) return 'late';
    if (this.has(seq)) return false;
    this.set(seq, true);
    return true;
  }
}

/**
 * Duplicate detection for one subscription. Events of one publisher arrive in
 * seq order except around a fail-over (two paths through a cluster), hence a
 * window rather than only the highest seq. Windows are kept per (node of the
 * subject, publisher): what one node's publisher sends, forged ids included,
 * touches only that node's windows. At most `maxPublishers` are tracked (the
 * oldest is forgotten: its next event is taken as new). A seq more than the
 * window below the highest is delivered, counted in `late`, not dropped on a
 * guess.
 */
export class Dedup {
  private readonly windows = new Map<string, Window>();
  /** Events delivered although too far below their scope's highest seq to be checked. */
  late = 0;

  constructor(private readonly maxPublishers = 1024) {}

  first(node: string, publisher: string, seq: number): boolean {
    return this.firstIn(this.window(node, publisher), seq);
  }

  /** The window of (node, publisher), for firstIn(): looked up once per message, not once per event of a batch. */
  window(node: string, publisher: string): Window {
    const key = `${node} ${publisher}`;
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.maxPublishers) this.windows.delete(this.windows.keys().next().value!);
      w = new Window();
      this.windows.set(key, w);
    }
    return w;
  }

  /** first() in a window from window(). */
  firstIn(window: Window, seq: number): boolean {
    const r = window.first(seq);
    if (r === 'late') {
      this.late++;
      return true;
    }
    return r;
  }
}
