/**
 * Message payloads from the trace: the script prints a message line, then its
 * first bytes (up to 32768) as 128-byte `payload` lines. bpftrace reads each
 * CPU's ring apart, so another peer's lines may come in between; one peer's
 * lines in one direction come from one thread of Core, in order. Assembly is
 * therefore per (direction, peer), and checks every offset: a lost line, a chunk
 * shorter than expected (BPFTRACE_STRLEN unset) or a new message before the
 * last was complete ends the capture there, and the event says how much was
 * seen. Bounded: at most `maxPending` messages in assembly, each at most the
 * script's 32768 bytes.
 *
 * Decoding is our codec's (src/protocol): a complete payload decodes strictly;
 * a cut one keeps what its prefix says (entry count, the entries that fit) for
 * the bulk messages whose prefix means something alone.
 */
import { withPayload, type AddrSummary, type AddrV2Summary, type InvSummary, type MessageSummary } from '../../events/message-summary.js';
import { messageSummary, summarizeMessage } from '../../events/summary.js';
import { Reader } from '../../protocol/codec.js';
import { addrEntry, addrV2Entry } from '../../protocol/messages/addr.js';
import { invItem } from '../../protocol/messages/inventory.js';
import { decodeMessage, msg } from '../../protocol/messages/index.js';
import type { Message } from '../../protocol/messages/types.js';
import { compactSize } from '../../protocol/primitives.js';
import { MAX_ADDR_TO_SEND } from '../../protocol/limits.js';

/** The script's cap (deploy/bpftrace/peer-observer.bt: `$n = arg4 < 32768 ...`). */
export const USDT_PAYLOAD_MAX = 32768;
const CHUNK = 128;

export interface PendingMessage {
  dir: 'in' | 'out';
  peerId: number;
  command: string;
  size: number;
  /** Bytes the script prints (its `payload_bytes`), at most USDT_PAYLOAD_MAX. */
  expected: number;
  bytes: Buffer;
  filled: number;
  /** Set when a line was missing or short: capture ends at `filled`. */
  broken: boolean;
  startedMs: number;
  /** Whatever the caller needs to emit the event later. */
  context: unknown;
}

export interface PayloadCounters {
  /** Payloads seen in full and decoded. */
  complete: number;
  /** Payloads seen in part (longer than the script's cap, or lines lost). */
  truncated: number;
  /** Complete payloads our codec refused. */
  undecodable: number;
  /** payload lines for no message in assembly, or at an offset we did not expect. */
  strayChunks: number;
}

export class PayloadAssembler {
  private readonly pending = new Map<string, PendingMessage>();
  readonly counters: PayloadCounters = { complete: 0, truncated: 0, undecodable: 0, strayChunks: 0 };

  constructor(
    private readonly done: (m: PendingMessage) => void,
    private readonly maxPending = 1024,
  ) {}

  /** A message line: starts assembly, or completes at once when no payload lines follow. */
  begin(dir: 'in' | 'out', peerId: number, command: string, size: number, announced: number, context: unknown, nowMs: number): void {
    const key = `${dir}|${peerId}`;
    const prev = this.pending.get(key);
    if (prev) this.finish(key, prev, true);
    const expected = Math.min(size, announced, USDT_PAYLOAD_MAX);
    const m: PendingMessage = {
      dir,
      peerId,
      command,
      size,
      expected,
      bytes: Buffer.alloc(expected),
      filled: 0,
      broken: false,
      startedMs: nowMs,
      context,
    };
    if (expected === 0) return this.done(m);
    this.pending.set(key, m);
    while (this.pending.size > this.maxPending) {
      const [oldKey, old] = this.pending.entries().next().value as [string, PendingMessage];
      this.finish(oldKey, old, true);
    }
  }

  /** A payload line. */
  chunk(dir: 'in' | 'out', peerId: number, offset: number, data: Buffer): void {
    const key = `${dir}|${peerId}`;
    const m = this.pending.get(key);
    if (!m || offset !== m.filled || m.broken) {
      this.counters.strayChunks++;
      if (m && offset !== m.filled) this.finish(key, m, true);
      return;
    }
    const want = Math.min(CHUNK, m.expected - offset);
    const take = Math.min(want, data.length);
    data.copy(m.bytes, offset, 0, take);
    m.filled += take;
    if (take < want) m.broken = true;
    if (m.filled >= m.expected || m.broken) this.finish(key, m, m.broken);
  }

  /** Ends assemblies older than `maxAgeMs` (their remaining lines were lost); all with 0. */
  sweep(nowMs: number, maxAgeMs = 1000): void {
    for (const [key, m] of this.pending) if (nowMs - m.startedMs >= maxAgeMs) this.finish(key, m, true);
  }

  get size(): number {
    return this.pending.size;
  }

  private finish(key: string, m: PendingMessage, broken: boolean): void {
    this.pending.delete(key);
    m.broken = m.broken || broken;
    this.done(m);
  }
}

/** A captured payload's message fields (`command`, `known`, `payload`), and how it was read. */
export type DecodedPayload = MessageSummary & {
  /** Bytes of the payload the trace handed over, when fewer than its size. */
  captured: number | null;
  /** The codec refused a complete payload. */
  error: string | null;
};

/**
 * A captured payload → the event's `payload`: the codec's summary when complete;
 * when cut, `{ truncated: true, capturedBytes, size, ... }` with what the prefix
 * tells (addr/addrv2/inv/getdata/notfound: the declared count and the entries that fit).
 */
export function decodeCaptured(command: string, bytes: Uint8Array, size: number): DecodedPayload {
  if (bytes.length >= size) {
    let m: Message;
    try {
      m = decodeMessage(command, bytes.subarray(0, size));
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // decodeMessage throws only for a command it has a codec for.
      return { ...withPayload(command, { error }), captured: null, error };
    }
    return { ...messageSummary(m), captured: null, error: null };
  }
  const cut = { truncated: true as const, capturedBytes: bytes.length, size };
  const partial = partialSummary(command, bytes);
  return { ...withPayload(command, partial ? { ...partial, ...cut } : cut), captured: bytes.length, error: null };
}

/** What the prefix of a cut addr/addrv2/inv/getdata/notfound tells: the declared count and the entries that fit. */
function partialSummary(command: string, bytes: Uint8Array): AddrSummary | AddrV2Summary | InvSummary | null {
  const r = new Reader(bytes);
  try {
    const count = compactSize.read(r);
    // At most `limit` entries: past Core's MAX_ADDR_TO_SEND an addr summary fails its schema, and every consumer
    // would drop the event (a cut 32 KiB capture holds up to 1,092 addr entries).
    const take = <T>(read: (r: Reader) => T, limit = Infinity): T[] => {
      const out: T[] = [];
      while (out.length < Math.min(count, limit) && r.remaining > 0) {
        const at = r.offset;
        try {
          out.push(read(r));
        } catch {
          r.offset = at;
          break;
        }
      }
      return out;
    };
    let s: AddrSummary | AddrV2Summary | InvSummary;
    switch (command) {
      case 'addr':
        s = summarizeMessage(msg(command, { entries: take((x) => addrEntry.read(x), MAX_ADDR_TO_SEND) })) as AddrSummary;
        break;
      case 'addrv2':
        s = summarizeMessage(msg(command, { entries: take((x) => addrV2Entry.read(x), MAX_ADDR_TO_SEND) })) as AddrV2Summary;
        break;
      case 'inv':
      case 'getdata':
      case 'notfound':
        s = summarizeMessage(msg(command, { items: take((x) => invItem.read(x)) })) as InvSummary;
        break;
      default:
        return null;
    }
    return { ...s, count, entriesCaptured: s.count };
  } catch {
    return null;
  }
}
