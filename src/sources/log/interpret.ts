/**
 * debug.log records → events, with the per-peer state the log spreads over
 * several lines: "Added connection" (+ "connection from ... accepted" for an
 * inbound peer) opens, "receive version message" and "New <type> peer
 * connected" complete the handshake, "... disconnecting peer=N" says why, and
 * "Cleared nodestate for peer=N" (logged for every peer Core lets go) closes.
 * Every line is counted: as an event, a known line without one, or unknown by
 * its category; nothing in a line is fatal.
 */
import type { ConnRef, ViolationKind } from '../../events/types.js';
import { withoutPayload } from '../../events/message-summary.js';
import type { NetworkName } from '../../protocol/networks.js';
import { netgroupOfAddr, newCorePeer, PeerTable, transportOf, type CorePeer, type CoreSink } from '../core/common.js';
import { parseMessage, splitLine, type LogRecord } from './parse.js';

export interface LogCounters {
  lines: number;
  blank: number;
  /** Lines that produced at least one event. */
  eventLines: number;
  /** Known lines that only feed state (no event of their own). */
  knownNoEvent: number;
  /** Lines that are not Core's log format at all (no timestamp): counted under unknown.format. */
  unknown: number;
  unknownByCategory: Map<string, number>;
  /** Message lines for a peer whose opening we did not see (direction unknown). */
  unknownPeer: number;
}

export class LogInterpreter {
  readonly counters: LogCounters = {
    lines: 0,
    blank: 0,
    eventLines: 0,
    knownNoEvent: 0,
    unknown: 0,
    unknownByCategory: new Map(),
    unknownPeer: 0,
  };
  private threadNames: boolean | undefined;
  private readonly peers = new PeerTable();
  /** "Added connection" waits one line for "connection from ... accepted" (inbound) before it is emitted. */
  private pending: { peer: CorePeer; addr: string } | undefined;
  private lastAccepted: string | undefined;
  private readonly disconnectWhy = new Map<number, string>();
  /** The last "received:" line's peer and command: a ProcessMessages exception line names no peer. */
  private lastReceived: { peer: number; command: string } | undefined;
  /** connection.opened events emitted for an earlier "Added connection" line. */
  private deferredEmitted = 0;

  constructor(
    private readonly sink: CoreSink,
    private readonly network: NetworkName,
  ) {}

  private unknown(category: string): void {
    this.counters.unknown++;
    this.counters.unknownByCategory.set(category, (this.counters.unknownByCategory.get(category) ?? 0) + 1);
  }

  /** Feed one line (without its newline). */
  line(text: string): void {
    this.counters.lines++;
    if (text.trim() === '') {
      this.counters.blank++;
      return;
    }
    const split = splitLine(text, this.threadNames);
    if (!split) {
      this.flushPending();
      return this.unknown('format');
    }
    if (split.groups === 2) this.threadNames = true;
    const nowUs = split.timeUs ?? Date.now() * 1000;
    const record = parseMessage(split.message);
    if (this.pending && !(record?.kind === 'accepted' && record.addr === this.pending.addr)) this.flushPending();
    if (!record) return this.unknown(split.category);
    const before = this.sink.published + this.sink.publishErrors - this.deferredEmitted;
    this.apply(record, nowUs);
    // An "Added connection" line's connection.opened is emitted later (deferred) but belongs to it.
    const emitted = this.sink.published + this.sink.publishErrors - this.deferredEmitted - before + (record.kind === 'added' ? 1 : 0);
    if (emitted > 0) this.counters.eventLines++;
    else this.counters.knownNoEvent++;
  }

  /** At the end of input: emit what is waiting. */
  end(): void {
    this.flushPending();
  }

  private flushPending(inbound = false): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    p.peer.conn.direction = inbound ? 'inbound' : 'outbound';
    this.emitOpened(p.peer);
    this.deferredEmitted++;
  }

  private emitOpened(peer: CorePeer): void {
    this.sink.emit(
      'connection.opened',
      {
        conn: { ...peer.conn },
        local: '',
        network: this.network,
        netgroup: netgroupOfAddr(peer.conn.remote),
        transport: 'unknown',
        ...(peer.connType ? { connType: peer.connType } : {}),
      },
      peer.openedUs,
    );
  }

  /** The peer for an id; a peer first met mid-session gets direction 'unknown'. */
  private peer(id: number, nowUs: number, addr: string | null = null): CorePeer {
    let p = this.peers.get(id);
    if (!p) {
      this.counters.unknownPeer++;
      p = newCorePeer({ id, direction: 'unknown', remote: addr ?? '' }, undefined, nowUs);
      this.peers.set(p);
    } else if (addr && !p.conn.remote) {
      p.conn.remote = addr;
    }
    return p;
  }

  private conn(p: CorePeer): ConnRef {
    return { ...p.conn };
  }

  private apply(r: LogRecord, nowUs: number): void {
    switch (r.kind) {
      case 'message': {
        const p = this.peer(r.peer, nowUs);
        if (r.dir === 'in') this.lastReceived = { peer: r.peer, command: r.command };
        if (r.dir === 'in') {
          p.messagesIn++;
          p.bytesIn += r.size;
          if (r.command === 'wtxidrelay') p.wtxidRelay = true;
          if (r.command === 'sendaddrv2') p.addrV2 = true;
        } else {
          p.messagesOut++;
          p.bytesOut += r.size;
        }
        this.sink.emit('message', { conn: this.conn(p), dir: r.dir, size: r.size, ...withoutPayload(r.command) }, nowUs);
        return;
      }
      case 'added': {
        const addr = r.addr ?? '';
        const peer = newCorePeer({ id: r.peer, direction: 'outbound', remote: addr }, undefined, nowUs);
        this.peers.set(peer);
        if (addr && this.lastAccepted === addr) {
          // Older Core logs "accepted" first.
          this.lastAccepted = undefined;
          peer.conn.direction = 'inbound';
          this.emitOpened(peer);
        } else {
          this.pending = { peer, addr };
        }
        return;
      }
      case 'accepted':
        if (this.pending && this.pending.addr === r.addr) this.flushPending(true);
        else this.lastAccepted = r.addr;
        return;
      case 'version': {
        const p = this.peer(r.peer, nowUs, r.addr);
        p.version = r.version;
        p.userAgent = r.userAgent;
        p.startHeight = r.blocks;
        return;
      }
      case 'connected': {
        const p = this.peer(r.peer, nowUs, r.addr);
        p.connType = r.connType;
        if (p.conn.direction === 'unknown') p.conn.direction = r.connType === 'inbound' ? 'inbound' : 'outbound';
        p.handshakeComplete = true;
        this.sink.emit(
          'handshake.complete',
          {
            conn: this.conn(p),
            elapsedMs: Math.max(0, (nowUs - p.openedUs) / 1000),
            wtxidRelay: p.wtxidRelay,
            addrV2: p.addrV2,
            version: r.version,
            ...(p.userAgent !== undefined ? { userAgent: p.userAgent } : {}),
            startHeight: r.blocks,
            connType: r.connType,
            transport: transportOf(r.transport),
          },
          nowUs,
        );
        return;
      }
      case 'disconnecting':
        this.peer(r.peer, nowUs, r.addr);
        if (!this.disconnectWhy.has(r.peer)) this.disconnectWhy.set(r.peer, r.why);
        return;
      case 'cleared': {
        const p = this.peer(r.peer, nowUs);
        const why = this.disconnectWhy.get(r.peer) ?? '';
        this.disconnectWhy.delete(r.peer);
        this.peers.delete(r.peer);
        this.sink.emit(
          'connection.closed',
          {
            conn: this.conn(p),
            network: this.network,
            netgroup: netgroupOfAddr(p.conn.remote),
            reason: reasonOf(why),
            detail: why,
            durationMs: Math.max(0, (nowUs - p.openedUs) / 1000),
            handshakeComplete: p.handshakeComplete,
            bytesIn: p.bytesIn,
            bytesOut: p.bytesOut,
            messagesIn: p.messagesIn,
            messagesOut: p.messagesOut,
            ...(p.connType ? { connType: p.connType } : {}),
          },
          nowUs,
        );
        return;
      }
      case 'addr': {
        const p = this.peer(r.peer, nowUs);
        this.sink.emit(
          'addr.received',
          { conn: this.conn(p), addresses: r.addresses, processed: r.processed, rateLimited: r.rateLimited },
          nowUs,
        );
        return;
      }
      case 'header-error': {
        const p = this.peer(r.peer, nowUs);
        const kind = headerErrorKind(r.error);
        if (kind !== 'bad-checksum' && !this.disconnectWhy.has(r.peer)) this.disconnectWhy.set(r.peer, `Header error: ${r.error}`);
        this.sink.emit(
          'violation',
          {
            conn: this.conn(p),
            kind,
            // Core drops a message with a bad checksum and disconnects for the rest.
            action: kind === 'bad-checksum' ? 'drop-message' : 'disconnect',
            detail: `Header error: ${r.error}${r.detail ? `, ${r.detail}` : ''}`,
            ...(r.command !== null ? { command: r.command } : {}),
            ...(r.size !== null ? { size: r.size } : {}),
          },
          nowUs,
        );
        return;
      }
      case 'misbehaving': {
        const p = this.peer(r.peer, nowUs);
        this.sink.emit('violation', { conn: this.conn(p), kind: 'misbehaving', action: 'none', detail: r.detail }, nowUs);
        return;
      }
      case 'bad-pong': {
        const p = this.peer(r.peer, nowUs);
        // Only a pong nobody asked for is a protocol fact of the peer's own; the rest may be timing.
        if (r.problem !== 'Unsolicited pong without ping') return;
        this.sink.emit(
          'violation',
          { conn: this.conn(p), kind: 'unsolicited-pong', action: 'none', detail: `${r.problem}, ${r.detail}`, command: 'pong' },
          nowUs,
        );
        return;
      }
      case 'payload-exception': {
        // The line names no peer: it is the one whose "received:" line came last (Core logs it just before processing).
        const id = this.lastReceived?.command === r.command ? this.lastReceived.peer : undefined;
        if (id === undefined) return;
        const p = this.peer(id, nowUs);
        this.sink.emit(
          'violation',
          { conn: this.conn(p), kind: 'malformed-payload', action: 'drop-message', detail: r.detail, command: r.command, size: r.size },
          nowUs,
        );
        return;
      }
      case 'unknown-command':
        // Core ignores it, and so its "received:" line already made a message event (known: false).
        return;
      case 'tip':
        this.sink.emit(
          'block.connected',
          { hash: r.hash, height: r.height, transactions: null, inputs: null, sigops: null, durationMs: null },
          nowUs,
        );
        return;
      case 'mempool-accepted':
        this.sink.emit(
          'mempool.tx',
          { action: 'accepted', txid: r.txid, wtxid: r.wtxid, vsize: null, feeSat: null, reason: null, peerId: r.peer, replacedBy: null },
          nowUs,
        );
        return;
      case 'mempool-rejected':
        this.sink.emit(
          'mempool.tx',
          {
            action: 'rejected',
            txid: r.txid,
            wtxid: r.wtxid,
            vsize: null,
            feeSat: null,
            reason: r.reason.slice(0, 256),
            peerId: r.peer,
            replacedBy: null,
          },
          nowUs,
        );
        return;
      case 'known':
        return;
    }
  }

  /** Counters for a `pipeline.counters` event. */
  snapshot(extra: Record<string, number> = {}): Record<string, number> {
    const c = this.counters;
    const out: Record<string, number> = {
      lines: c.lines,
      blank: c.blank,
      events: this.sink.published + this.sink.publishErrors,
      eventLines: c.eventLines,
      'known.noEvent': c.knownNoEvent,
      unknown: c.unknown,
      unknownPeer: c.unknownPeer,
      peers: this.peers.size,
      peersEvicted: this.peers.evicted,
      ...extra,
    };
    for (const [cat, n] of c.unknownByCategory) out[`unknown.${cat}`] = n;
    return out;
  }
}

function reasonOf(why: string): 'peer-closed' | 'socket-error' | 'shutdown' | 'protocol-violation' | 'unknown' {
  if (/^Header error/.test(why)) return 'protocol-violation';
  if (/^socket closed/.test(why)) return 'peer-closed';
  if (/^(socket send error|receiving message bytes failed|socket recv error)/.test(why)) return 'socket-error';
  if (/^Stopping node/.test(why)) return 'shutdown';
  if (why) return 'protocol-violation';
  return 'unknown';
}

function headerErrorKind(error: string): ViolationKind {
  if (/checksum/i.test(error)) return 'bad-checksum';
  if (/size too large/i.test(error)) return 'oversize';
  if (/message type|command/i.test(error)) return 'invalid-command';
  if (/magic/i.test(error)) return 'bad-magic';
  return 'malformed-payload';
}
