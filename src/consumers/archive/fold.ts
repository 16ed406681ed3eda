/**
 * Folding: how the archive keeps a flood from being multiplied onto disk.
 *
 * A ping is 32 bytes on the wire and about 700 bytes in the archive (its JSON
 * envelope, the pong we answer, five index entries); an addr of 1000 entries
 * is 30 KB on the wire and 80 KB of JSON. Stored one row per event, a flood
 * is written to disk at 2-22 times the rate it arrives. So each stream of
 * like events (one connection, one direction, one command; or one
 * connection's violations of one kind) has a token bucket, as Core rate-limits
 * a peer's addr messages (net_processing.cpp, ProcessMessage "addr": a
 * per-peer token bucket): an event that finds a token is stored in full; one
 * that does not is folded into the stream's open aggregate, which keeps the
 * exact count, payload bytes, item count (addr/addrv2/inv/getdata/notfound/
 * headers entries), the first and last time, and the first folded event whole
 * as a sample.
 *
 * The bucket: `rate` tokens per second (event time), up to `rate` ×
 * FOLD_BURST_SECONDS; an event costs 1 plus 1 per KiB of payload (at most the
 * whole bucket), so a 30 KB addr costs 30 pings. Honest peers (a ping every 2
 * minutes, an addr every 30 s, a few inv per second) never run out.
 *
 * An aggregate closes (and is written, in arrival order) when the next event of
 * its stream comes and it spans ≥ 1 s and holds ≥ FOLD_MIN_EVENTS events (so its
 * sample is paid for), or spans FOLD_MAX_SPAN_US; when its connection closes;
 * when its stream has been idle for 1 s (flushDue); and at the end. While one
 * is open every event of its stream goes into it, so rows stay in time order.
 *
 * Bounded: at most FOLD_MAX_STREAMS streams (least recently used ones are closed
 * and forgotten first) and FOLD_MAX_SAMPLE_BYTES of samples held in open
 * aggregates.
 */
import type { MessageEvent, ObserverEvent } from '../../events/types.js';
import { summaryOf, type KnownMessageSummary } from '../../events/message-summary.js';
import { ITEM_COMMANDS } from './query.js';
import { connectionKey } from '../../events/conn-key.js';

const ITEMS = new Set<string>(ITEM_COMMANDS);
/** A message whose summary counts entries (the commands the archive's queries sum, ITEM_COMMANDS). */
const isItemMessage = (d: MessageEvent): d is MessageEvent & KnownMessageSummary<(typeof ITEM_COMMANDS)[number]> =>
  d.known && ITEMS.has(d.command);

/** Bucket size, in seconds of refill. */
export const FOLD_BURST_SECONDS = 20;
/** Default tokens per second per stream (`--fold-rate`). */
export const DEFAULT_FOLD_RATE = 10;
/** An aggregate closes on the next event of its stream once it spans this long and holds FOLD_MIN_EVENTS... */
export const FOLD_SPAN_US = 1_000_000;
export const FOLD_MIN_EVENTS = 10;
/** ... and in any case once it spans this long. */
export const FOLD_MAX_SPAN_US = 60_000_000;
/** Streams tracked at once. */
export const FOLD_MAX_STREAMS = 4096;
/** Estimated bytes of the samples held in open aggregates. */
export const FOLD_MAX_SAMPLE_BYTES = 64 * 1024 * 1024;

/** What an aggregate row stores (its envelope column, as JSON: `{"aggregate":{...},"sample":{...}}`). */
export interface AggregateCounts {
  /** Events folded. */
  count: number;
  /** Their payload bytes (data.size), summed. */
  bytes: number;
  /** Their entries (payload.count of addr, addrv2, inv, getdata, notfound, headers), summed. */
  items: number;
  /** Time of the first and last folded event (µs). */
  firstUs: number;
  lastUs: number;
}

export interface Aggregate {
  aggregate: AggregateCounts;
  /** The first folded event, whole. */
  sample: ObserverEvent;
}

/** An event to store in full, or an aggregate; in the order they are to be written. */
export type Folded = { event: ObserverEvent } | Aggregate;

interface Stream {
  conn: string;
  tokens: number;
  lastUs: number;
  open: Aggregate | undefined;
  /** Estimated bytes of the open aggregate's sample. */
  sampleBytes: number;
}

interface Counted {
  conn?: { id: number; remote: string };
  dir?: string;
  command?: string;
  kind?: string;
  size?: number;
}

/** The stream an event belongs to and its connection's key, or undefined for events that are never folded. */
function keys(e: ObserverEvent): { stream: string; conn: string } | undefined {
  if (e.type !== 'message' && e.type !== 'violation') return undefined;
  const d = e.data as Counted;
  if (!d.conn) return undefined;
  const conn = `${connectionKey(e, d.conn.id)}/${d.conn.remote}`;
  const what = e.type === 'message' ? `m\0${d.dir}\0${d.command}` : `v\0${d.kind}`;
  return { stream: `${conn}\0${what}`, conn };
}

/** payload.count where the summary has one (addr, addrv2, inv, getdata, notfound, headers), else 0. */
export function itemsOf(e: ObserverEvent): number {
  if (e.type !== 'message' || !isItemMessage(e.data)) return 0;
  const c = summaryOf(e.data)?.count ?? 0;
  // The schema says a non-negative integer; a sum of them must stay exact.
  return Number.isSafeInteger(c) ? c : 0;
}

function sizeOf(e: ObserverEvent): number {
  const s = (e.data as Counted).size;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s : 0;
}

/** Rough bytes of an event held in memory as a sample. */
function sampleBytesOf(e: ObserverEvent): number {
  const raw = (e.data as { raw?: string }).raw;
  return 1024 + sizeOf(e) * 3 + (raw?.length ?? 0) * 2;
}

export class Folder {
  /** By key, least recently used first. */
  private readonly streams = new Map<string, Stream>();
  /** Open aggregates' streams by connection, so a closed connection's are written before its close. */
  private readonly byConn = new Map<string, Set<string>>();
  private sampleBytes = 0;
  private readonly burst: number;
  /** Events folded so far, and aggregates written. */
  folded = 0;
  aggregates = 0;

  /** `rate`: tokens per second per stream; 0 never folds. */
  constructor(private readonly rate: number) {
    this.burst = rate * FOLD_BURST_SECONDS;
  }

  /** Streams tracked now. */
  get size(): number {
    return this.streams.size;
  }

  /** Take one event; append to `out` what is to be written now (nothing, when it was folded). */
  push(e: ObserverEvent, out: Folded[]): void {
    const k = this.rate > 0 ? keys(e) : undefined;
    if (!k) {
      if (e.type === 'connection.closed') this.closeConn(e, out);
      out.push({ event: e });
      return;
    }
    let s = this.streams.get(k.stream);
    if (s) {
      // Most recently used last.
      this.streams.delete(k.stream);
      this.streams.set(k.stream, s);
    } else {
      s = { conn: k.conn, tokens: this.burst, lastUs: e.timeUs, open: undefined, sampleBytes: 0 };
      this.streams.set(k.stream, s);
      if (this.streams.size > FOLD_MAX_STREAMS) this.forgetOldest(out);
    }
    if (e.timeUs > s.lastUs) {
      s.tokens = Math.min(this.burst, s.tokens + ((e.timeUs - s.lastUs) / 1e6) * this.rate);
      s.lastUs = e.timeUs;
    }
    if (s.open) {
      const span = e.timeUs - s.open.aggregate.firstUs;
      if ((span >= FOLD_SPAN_US && s.open.aggregate.count >= FOLD_MIN_EVENTS) || span >= FOLD_MAX_SPAN_US) this.close(k.stream, s, out);
    }
    if (!s.open) {
      const cost = Math.min(this.burst, 1 + sizeOf(e) / 1024);
      if (s.tokens >= cost) {
        s.tokens -= cost;
        out.push({ event: e });
        return;
      }
      s.open = { aggregate: { count: 0, bytes: 0, items: 0, firstUs: e.timeUs, lastUs: e.timeUs }, sample: e };
      s.sampleBytes = sampleBytesOf(e);
      this.sampleBytes += s.sampleBytes;
      let set = this.byConn.get(s.conn);
      if (!set) this.byConn.set(s.conn, (set = new Set()));
      set.add(k.stream);
      if (this.sampleBytes > FOLD_MAX_SAMPLE_BYTES) this.closeOldestOpen(out);
    }
    const a = s.open?.aggregate;
    if (!a) {
      // closeOldestOpen closed this very one (its sample alone is over the bound): store the event itself.
      out.push({ event: e });
      return;
    }
    a.count++;
    a.bytes += sizeOf(e);
    a.items += itemsOf(e);
    if (e.timeUs > a.lastUs) a.lastUs = e.timeUs;
    this.folded++;
  }

  /** Close aggregates whose stream has been idle for FOLD_SPAN_US, or that span FOLD_MAX_SPAN_US, by `nowUs`. */
  flushDue(nowUs: number, out: Folded[]): void {
    for (const [key, s] of this.streams) {
      if (s.open && (nowUs - s.lastUs >= FOLD_SPAN_US || nowUs - s.open.aggregate.firstUs >= FOLD_MAX_SPAN_US)) this.close(key, s, out);
    }
  }

  /** Close every open aggregate (the end of the stream). */
  flushAll(out: Folded[]): void {
    for (const [key, s] of this.streams) if (s.open) this.close(key, s, out);
  }

  /** Open aggregates now. */
  get open(): number {
    let n = 0;
    for (const set of this.byConn.values()) n += set.size;
    return n;
  }

  private close(key: string, s: Stream, out: Folded[]): void {
    const open = s.open;
    if (!open) return;
    s.open = undefined;
    this.sampleBytes -= s.sampleBytes;
    s.sampleBytes = 0;
    const set = this.byConn.get(s.conn);
    set?.delete(key);
    if (set?.size === 0) this.byConn.delete(s.conn);
    if (open.aggregate.count === 0) return;
    this.aggregates++;
    out.push(open);
  }

  /** A connection closed: write its open aggregates first, and forget its streams. */
  private closeConn(e: ObserverEvent, out: Folded[]): void {
    const d = e.data as Counted;
    if (!d.conn) return;
    const conn = `${connectionKey(e, d.conn.id)}/${d.conn.remote}`;
    for (const key of [...(this.byConn.get(conn) ?? [])]) {
      const s = this.streams.get(key);
      if (s) this.close(key, s, out);
    }
    // Streams without an open aggregate: forgotten lazily (LRU), as their keys are not indexed by connection.
  }

  private forgetOldest(out: Folded[]): void {
    const [key, s] = this.streams.entries().next().value as [string, Stream];
    this.close(key, s, out);
    this.streams.delete(key);
  }

  private closeOldestOpen(out: Folded[]): void {
    for (const [key, s] of this.streams) {
      if (this.sampleBytes <= FOLD_MAX_SAMPLE_BYTES) return;
      if (s.open) this.close(key, s, out);
    }
  }
}
