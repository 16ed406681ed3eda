/**
 * Tracepoint lines (deploy/bpftrace/peer-observer.bt, one JSON object per
 * line) → events. The lines come from a root-run tracer, but their strings are
 * what peers sent (message types, addresses as Core saw them), so every field
 * is validated and a line that does not fit is counted, never fatal.
 *
 * Hashes arrive in Core's internal byte order as plain hex, as bpftrace's
 * `%rh` (`"ab cd ..."`) or `%rx` (`"\xab\xcd..."`) prints them; events carry
 * display order.
 */
import { z } from 'zod';
import type { ConnRef } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { formatEndpoint } from '../../protocol/address.js';
import { summaryOf, withoutPayload, type MessageSummary, type VersionSummary } from '../../events/message-summary.js';
import { decodeCaptured, PayloadAssembler } from './payload.js';
import { directionOfConnType, netgroupOfAddr, newCorePeer, PeerTable, type CorePeer, type CoreSink } from '../core/common.js';

const id = z.number().int().nonnegative();
const text = z.string().max(256);
const count = z.number().int().nonnegative();
/** 32 bytes in any of bpftrace's buffer spellings. */
const hash = z
  .string()
  .transform((s) => s.replace(/\\x|\s/g, '').toLowerCase())
  .refine((s) => /^[0-9a-f]{64}$/.test(s), '32 bytes as hex')
  .transform((s) => Buffer.from(s, 'hex').reverse().toString('hex'));

const conn = { peer_id: id, addr: text, conn_type: text };
/** Message lines: the shipped script leaves conn_type out (a third string does not fit bpftrace 0.17's stack); older traces have it. */
const msgConn = { peer_id: id, addr: text, conn_type: text.optional(), payload_bytes: count.max(65536).optional() };
const TRACEPOINTS = z.discriminatedUnion('tracepoint', [
  z.object({ tracepoint: z.literal('net:inbound_message'), ...msgConn, msg_type: z.string().max(12), size: count }),
  z.object({ tracepoint: z.literal('net:outbound_message'), ...msgConn, msg_type: z.string().max(12), size: count }),
  /** Once per live peer, before its first message line: its connection type (message lines have no room for it). */
  z.object({ tracepoint: z.literal('peer'), peer_id: id, conn_type: text }),
  z.object({
    tracepoint: z.literal('payload'),
    dir: z.enum(['in', 'out']),
    peer_id: id,
    offset: count,
    hex: z
      .string()
      .max(1024)
      .transform((s) => s.replace(/\\x|\s/g, ''))
      .refine((s) => /^(?:[0-9a-fA-F]{2})*$/.test(s), 'hex bytes'),
  }),
  z.object({ tracepoint: z.literal('net:inbound_connection'), ...conn, network: count.optional(), existing: count.optional() }),
  z.object({ tracepoint: z.literal('net:outbound_connection'), ...conn, network: count.optional(), existing: count.optional() }),
  z.object({ tracepoint: z.literal('net:closed_connection'), ...conn, network: count.optional(), established: count.optional() }),
  z.object({ tracepoint: z.literal('net:evicted_inbound_connection'), ...conn, network: count.optional(), established: count.optional() }),
  z.object({ tracepoint: z.literal('net:misbehaving_connection'), peer_id: id, message: text }),
  z.object({ tracepoint: z.literal('mempool:added'), txid: hash, vsize: count, fee: z.number().int() }),
  z.object({
    tracepoint: z.literal('mempool:removed'),
    txid: hash,
    reason: text,
    vsize: count,
    fee: z.number().int(),
    entry_time: count.optional(),
  }),
  z.object({
    tracepoint: z.literal('mempool:replaced'),
    replaced_txid: hash,
    replaced_vsize: count,
    replaced_fee: z.number().int(),
    replaced_entry_time: count.optional(),
    replacement_txid: hash,
    replacement_vsize: count.optional(),
    /** arg6 and arg7: read by the probe the source builds from the binary's USDT note. */
    replacement_fee: z.number().int().optional(),
    replacement_is_tx: z.number().int().min(0).max(255).optional(),
  }),
  z.object({ tracepoint: z.literal('mempool:rejected'), txid: hash, reason: text }),
  z.object({
    tracepoint: z.literal('validation:block_connected'),
    hash,
    height: count,
    transactions: count,
    inputs: count,
    sigops: count,
    duration_ns: count,
  }),
]);
export type Tracepoint = z.infer<typeof TRACEPOINTS>;

interface MessageContext {
  conn: ConnRef;
  timeUs: number;
}

export interface UsdtCounters {
  lines: number;
  events: number;
  /** JSON objects that are not a tracepoint we know, or fields out of range. */
  malformed: number;
  /** Lines that are not JSON: bpftrace's own output ("Attaching N probes..."). */
  other: number;
  /** Events the kernel dropped because bpftrace could not keep up ("Lost N events"). */
  lost: number;
  /** A message or closing for a peer whose opening the trace did not show. */
  unknownPeer: number;
}

/** One line → its tracepoint, 'lost' with a count, or null (not ours). */
export function parseTraceLine(line: string): { tp: Tracepoint } | { lost: number } | { other: true } | { malformed: string } {
  const lost = /^Lost (\d+) events/.exec(line);
  if (lost) return { lost: Number(lost[1]) };
  if (!line.startsWith('{')) return { other: true };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { malformed: 'not JSON' };
  }
  const tp = TRACEPOINTS.safeParse(value);
  if (!tp.success) return { malformed: tp.error.issues[0]?.message ?? 'invalid' };
  return { tp: tp.data };
}

export class UsdtInterpreter {
  readonly counters: UsdtCounters = { lines: 0, events: 0, malformed: 0, other: 0, lost: 0, unknownPeer: 0 };
  private readonly peers = new PeerTable();
  private readonly payloads = new PayloadAssembler((m) => {
    const d = decodeCaptured(m.command, m.bytes.subarray(0, m.filled), m.size);
    if (d.captured !== null) this.payloads.counters.truncated++;
    else if (d.error !== null) this.payloads.counters.undecodable++;
    else this.payloads.counters.complete++;
    const { captured: _captured, error: _error, ...summary } = d;
    this.emitMessage(m.dir, m.size, m.context as MessageContext, summary);
    if (m.dir === 'in' && d.known && d.command === 'version') {
      const v = summaryOf(d);
      if (v) this.emitVersion(m.context as MessageContext, v);
    }
  });

  constructor(
    private readonly sink: CoreSink,
    private readonly network: NetworkName,
  ) {}

  line(text: string): void {
    this.counters.lines++;
    if (text.trim() === '') return;
    const r = parseTraceLine(text);
    if ('lost' in r) this.counters.lost += r.lost;
    else if ('other' in r) this.counters.other++;
    else if ('malformed' in r) this.counters.malformed++;
    else {
      const before = this.sink.published + this.sink.publishErrors;
      this.apply(r.tp, Date.now() * 1000);
      this.counters.events += this.sink.published + this.sink.publishErrors - before;
    }
  }

  private peerOf(tp: { peer_id: number; addr: string; conn_type?: string | undefined }, nowUs: number): CorePeer {
    let p = this.peers.get(tp.peer_id);
    if (!p) {
      this.counters.unknownPeer++;
      const direction = tp.conn_type === undefined ? 'unknown' : directionOfConnType(tp.conn_type);
      p = newCorePeer({ id: tp.peer_id, direction, remote: tp.addr }, tp.conn_type, nowUs);
      this.peers.set(p);
    } else if (!p.conn.remote && tp.addr) {
      p.conn.remote = tp.addr;
    }
    return p;
  }

  private apply(tp: Tracepoint, nowUs: number): void {
    switch (tp.tracepoint) {
      case 'net:inbound_message':
      case 'net:outbound_message': {
        const p = this.peerOf(tp, nowUs);
        const dir = tp.tracepoint === 'net:inbound_message' ? 'in' : 'out';
        if (dir === 'in') {
          p.messagesIn++;
          p.bytesIn += tp.size;
          if (tp.msg_type === 'wtxidrelay') p.wtxidRelay = true;
          if (tp.msg_type === 'sendaddrv2') p.addrV2 = true;
          if (tp.msg_type === 'verack') p.handshakeComplete = true;
        } else {
          p.messagesOut++;
          p.bytesOut += tp.size;
        }
        const context: MessageContext = { conn: { ...p.conn }, timeUs: nowUs };
        // `payload_bytes` of payload follow as `payload` lines (the shipped script); a trace without them emits at once.
        if (tp.payload_bytes !== undefined)
          this.payloads.begin(dir, tp.peer_id, tp.msg_type, tp.size, tp.payload_bytes, context, nowUs / 1000);
        else this.emitMessage(dir, tp.size, context, withoutPayload(tp.msg_type));
        return;
      }
      case 'peer':
        // A peer the trace saw open is known; one from before the trace gets its direction here, its address from its message line.
        if (!this.peers.get(tp.peer_id)) {
          this.counters.unknownPeer++;
          this.peers.set(newCorePeer({ id: tp.peer_id, direction: directionOfConnType(tp.conn_type), remote: '' }, tp.conn_type, nowUs));
        }
        return;
      case 'payload':
        this.payloads.chunk(tp.dir, tp.peer_id, tp.offset, Buffer.from(tp.hex, 'hex'));
        return;
      case 'net:inbound_connection':
      case 'net:outbound_connection': {
        const c: ConnRef = {
          id: tp.peer_id,
          direction: tp.tracepoint === 'net:inbound_connection' ? 'inbound' : 'outbound',
          remote: tp.addr,
        };
        this.peers.set(newCorePeer(c, tp.conn_type, nowUs));
        this.sink.emit(
          'connection.opened',
          { conn: c, local: '', network: this.network, netgroup: netgroupOfAddr(tp.addr), transport: 'unknown', connType: tp.conn_type },
          nowUs,
        );
        return;
      }
      case 'net:closed_connection':
      case 'net:evicted_inbound_connection': {
        // Core's `established` is in whole seconds: our own sight of the peer (µs) when we had it.
        const seenOpening = this.peers.get(tp.peer_id) !== undefined;
        const p = this.peerOf(tp, nowUs);
        this.peers.delete(tp.peer_id);
        const evicted = tp.tracepoint === 'net:evicted_inbound_connection';
        const establishedUs = seenOpening || !tp.established ? p.openedUs : tp.established * 1e6;
        this.sink.emit(
          'connection.closed',
          {
            conn: { ...p.conn },
            network: this.network,
            netgroup: netgroupOfAddr(tp.addr),
            reason: evicted ? 'evicted' : 'unknown',
            detail: evicted ? 'evicted by Core to make room for another inbound peer' : '',
            durationMs: Math.max(0, (nowUs - establishedUs) / 1000),
            handshakeComplete: p.handshakeComplete,
            bytesIn: p.bytesIn,
            bytesOut: p.bytesOut,
            messagesIn: p.messagesIn,
            messagesOut: p.messagesOut,
            connType: tp.conn_type,
          },
          nowUs,
        );
        return;
      }
      case 'net:misbehaving_connection': {
        const p = this.peers.get(tp.peer_id) ?? newCorePeer({ id: tp.peer_id, direction: 'unknown', remote: '' }, undefined, nowUs);
        this.sink.emit('violation', { conn: { ...p.conn }, kind: 'misbehaving', action: 'none', detail: tp.message }, nowUs);
        return;
      }
      case 'mempool:added':
        this.mempool('accepted', tp.txid, { vsize: tp.vsize, feeSat: String(tp.fee) }, nowUs);
        return;
      case 'mempool:removed':
        this.mempool('removed', tp.txid, { vsize: tp.vsize, feeSat: String(tp.fee), reason: tp.reason }, nowUs);
        return;
      case 'mempool:rejected':
        this.mempool('rejected', tp.txid, { reason: tp.reason }, nowUs);
        return;
      case 'mempool:replaced':
        this.mempool(
          'replaced',
          tp.replaced_txid,
          {
            vsize: tp.replaced_vsize,
            feeSat: String(tp.replaced_fee),
            reason: 'replaced',
            replacedBy: tp.replacement_txid,
            replacement: {
              vsize: tp.replacement_vsize ?? null,
              feeSat: tp.replacement_fee === undefined ? null : String(tp.replacement_fee),
            },
          },
          nowUs,
        );
        return;
      case 'validation:block_connected':
        this.sink.emit(
          'block.connected',
          {
            hash: tp.hash,
            height: tp.height,
            transactions: tp.transactions,
            inputs: tp.inputs,
            sigops: tp.sigops,
            durationMs: tp.duration_ns / 1e6,
          },
          nowUs,
        );
        return;
    }
  }

  private mempool(
    action: 'accepted' | 'removed' | 'rejected' | 'replaced',
    txid: string,
    more: {
      vsize?: number;
      feeSat?: string;
      reason?: string;
      replacedBy?: string;
      replacement?: { vsize: number | null; feeSat: string | null };
    },
    nowUs: number,
  ): void {
    this.sink.emit(
      'mempool.tx',
      {
        action,
        txid,
        wtxid: null,
        vsize: more.vsize ?? null,
        feeSat: more.feeSat ?? null,
        reason: more.reason ?? null,
        peerId: null,
        replacedBy: more.replacedBy ?? null,
        ...(more.replacement ? { replacement: more.replacement } : {}),
      },
      nowUs,
    );
  }

  private emitMessage(dir: 'in' | 'out', size: number, c: MessageContext, m: MessageSummary): void {
    this.sink.emit('message', { conn: c.conn, dir, size, ...m }, c.timeUs);
  }

  /** The peer's version, from its decoded payload (what the p2p source says of its own peers). */
  private emitVersion(c: MessageContext, v: VersionSummary): void {
    // A version that ended early (no nonce) says too little for a handshake.version event.
    if (v.nonce === null) return;
    this.sink.emit(
      'handshake.version',
      {
        conn: c.conn,
        version: v.version,
        services: v.services,
        serviceNames: v.serviceNames,
        userAgent: v.userAgent ?? '',
        startHeight: v.startHeight,
        relay: v.relay !== false,
        nonce: v.nonce,
        timeOffsetSec: Number(v.timestamp) - Math.round(c.timeUs / 1e6),
        receiver: formatEndpoint(v.receiver.addr, v.receiver.port),
        sender: v.sender === null ? null : formatEndpoint(v.sender.addr, v.sender.port),
      },
      c.timeUs,
    );
  }

  private counted(f: () => void): void {
    const before = this.sink.published + this.sink.publishErrors;
    f();
    this.counters.events += this.sink.published + this.sink.publishErrors - before;
  }

  /**
   * Messages whose payload lines stopped coming (lost): emitted with what arrived
   * after `maxAgeMs` (5 s: under load bpftrace's lines lag by seconds). Call every second or so.
   */
  sweep(nowMs = Date.now(), maxAgeMs = 5000): void {
    this.counted(() => this.payloads.sweep(nowMs, maxAgeMs));
  }

  /** At the end of input: every message still in assembly. */
  end(): void {
    this.counted(() => this.payloads.sweep(Infinity, 0));
  }

  snapshot(): Record<string, number> {
    return {
      ...this.counters,
      peers: this.peers.size,
      peersEvicted: this.peers.evicted,
      publishErrors: this.sink.publishErrors,
      payloadsComplete: this.payloads.counters.complete,
      payloadsTruncated: this.payloads.counters.truncated,
      payloadsUndecodable: this.payloads.counters.undecodable,
      payloadStrayLines: this.payloads.counters.strayChunks,
      payloadsPending: this.payloads.size,
    };
  }
}
