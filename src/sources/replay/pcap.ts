/**
 * A pcap of Bitcoin P2P traffic played back as observer events: records → TCP
 * segments → per-flow reassembly → frames → the events the live p2p source emits
 * (see flow.ts for which endpoint is "us"). Streaming: the file is read in
 * chunks; memory is bounded by the flow table and the buffered-bytes limit, and
 * everything dropped is counted in `stats`, which is also emitted as a final
 * `pipeline.counters` event (stage `replay.pcap`).
 */
import type { ObserverEvent } from '../../events/types.js';
import { makeEvent, type EventOrigin } from '../../events/envelope.js';
import { netgroupOf } from '../../protocol/address.js';
import type { Network } from '../../protocol/networks.js';
import { Flow, type FlowCounters } from './flow.js';
import { linkTypeName, parsePacket, SUPPORTED_LINK_TYPES, type SkipReason, type TcpSegment } from './packet.js';
import { DEFAULT_MAX_RECORD_LENGTH, PcapFormatError, PcapReader, type PcapReadProblem } from './pcap-file.js';
import { DEFAULT_REORDER_LIMITS } from './reassembly.js';

export interface PcapReplayLimits {
  /** Open flows; beyond it the least recently active flow is closed (reason `limit`). */
  maxFlows: number;
  /** Bytes held over all flows (reorder buffers, partial frames); beyond it the least recently active flows are closed. */
  maxBufferedBytes: number;
  /** Per direction: payload bytes waiting behind a hole before the hole is given up as a gap. */
  maxReorderBytes: number;
  /** Per direction: segments waiting behind a hole. */
  maxReorderSegments: number;
  /** Largest captured length of one pcap record; a larger one ends the read as corrupt. */
  maxRecordLength: number;
  /** Closed flows remembered so that their late packets (final ACKs, retransmissions) open nothing. */
  maxClosedFlows: number;
}

export const DEFAULT_PCAP_LIMITS: PcapReplayLimits = Object.freeze({
  maxFlows: 10_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxReorderBytes: DEFAULT_REORDER_LIMITS.maxReorderBytes,
  maxReorderSegments: DEFAULT_REORDER_LIMITS.maxReorderSegments,
  maxRecordLength: DEFAULT_MAX_RECORD_LENGTH,
  maxClosedFlows: 4096,
});

export interface PcapReplayOptions {
  network: Network;
  nodeId: string;
  /** Put each payload (base64) in its message / malformed-payload violation event. */
  recordRaw?: boolean;
  /**
   * The observed node's port: that endpoint is "us" (the server), and only flows
   * with this port are replayed. Without it every TCP flow is replayed and the
   * server is the SYN's receiver (or, mid-stream, the network's default port, else
   * the lower port).
   */
  serverPort?: number;
  limits?: Partial<PcapReplayLimits>;
  /** Bytes per file read (default 1 MiB). */
  readChunkSize?: number;
}

export interface PcapStats extends FlowCounters {
  /** pcap records read, and their captured bytes. */
  records: number;
  capturedBytes: number;
  tcpSegments: number;
  /** Records that were not TCP over IP, by reason. */
  skippedShort: number;
  skippedNotIp: number;
  skippedNotTcp: number;
  skippedIpFragment: number;
  /** Segments whose payload the snaplen cut (their bytes become a gap). */
  snapCut: number;
  /** Segments of flows not replayed (other ports with `serverPort`). */
  ignoredSegments: number;
  /** Segments of no open flow that cannot start one (late ACK/FIN/RST of a closed flow). */
  staleSegments: number;
  flows: number;
  /** Flows closed early for the flow or buffer limits. */
  flowsEvicted: number;
  outOfOrder: number;
  duplicateBytes: number;
  gaps: number;
  gapBytes: number;
  /** Bytes thrown away: buffered beyond a FIN, or a partial frame when the flow closed. */
  droppedBytes: number;
  /** High-water mark of bytes held over all flows. */
  maxBuffered: number;
  events: number;
  /** 1 when the file ended inside a record or had a record above the length limit (see `problem`). */
  readProblems: number;
}

export interface PcapReplay extends AsyncIterable<ObserverEvent> {
  /** Counters; complete once iteration has ended. */
  readonly stats: PcapStats;
  /** Why reading stopped before the end of the file, if it did. */
  readonly problem: PcapReadProblem | undefined;
}

function emptyStats(): PcapStats {
  return {
    records: 0,
    capturedBytes: 0,
    tcpSegments: 0,
    skippedShort: 0,
    skippedNotIp: 0,
    skippedNotTcp: 0,
    skippedIpFragment: 0,
    snapCut: 0,
    ignoredSegments: 0,
    staleSegments: 0,
    flows: 0,
    flowsEvicted: 0,
    outOfOrder: 0,
    duplicateBytes: 0,
    gaps: 0,
    gapBytes: 0,
    droppedBytes: 0,
    maxBuffered: 0,
    messages: 0,
    violations: 0,
    serverViolations: 0,
    resyncSkippedBytes: 0,
    bytesAfterFatal: 0,
    v2Flows: 0,
    v2Bytes: 0,
    events: 0,
    readProblems: 0,
  };
}

const SKIP_COUNTER: Record<SkipReason, keyof PcapStats> = {
  short: 'skippedShort',
  'not-ip': 'skippedNotIp',
  'not-tcp': 'skippedNotTcp',
  'ip-fragment': 'skippedIpFragment',
};

/**
 * Replay a classic pcap file as events. Throws `PcapFormatError` (on the first
 * `next()`) when the file is not a pcap, is pcapng, or has an unsupported link
 * type; damage inside the file is counted and reported in `stats`/`problem`.
 */
export function pcapEvents(path: string, options: PcapReplayOptions): PcapReplay {
  const stats = emptyStats();
  const limits: PcapReplayLimits = { ...DEFAULT_PCAP_LIMITS, ...options.limits };
  const reader = new PcapReader(path, { maxRecordLength: limits.maxRecordLength, chunkSize: options.readChunkSize });
  return {
    stats,
    get problem() {
      return reader.problem;
    },
    [Symbol.asyncIterator]: () => replay(reader, options, limits, stats)[Symbol.asyncIterator](),
  };
}

async function* replay(
  reader: PcapReader,
  options: PcapReplayOptions,
  limits: PcapReplayLimits,
  stats: PcapStats,
): AsyncGenerator<ObserverEvent> {
  const origin: EventOrigin = { nodeId: options.nodeId, source: 'replay' };
  const table = new FlowTable(options, limits, stats, origin);
  let linkType: number | undefined;
  let lastUs = 0;
  for await (const record of reader) {
    if (linkType === undefined) {
      linkType = reader.header!.linkType;
      if (linkTypeName(linkType) === undefined) {
        throw new PcapFormatError(
          `${reader.path}: link type ${linkType} not supported (supported: ${SUPPORTED_LINK_TYPES.map((t) => `${t} ${linkTypeName(t)}`).join(', ')})`,
        );
      }
    }
    stats.records++;
    stats.capturedBytes += record.data.length;
    lastUs = record.timeUs;
    const parsed = parsePacket(linkType, record.data);
    if (!parsed.ok) {
      (stats[SKIP_COUNTER[parsed.reason]] as number)++;
      continue;
    }
    const out: ObserverEvent[] = [];
    table.segment(parsed.segment, record.timeUs, out);
    stats.events += out.length;
    yield* out;
  }
  if (reader.header && linkTypeName(reader.header.linkType) === undefined) {
    throw new PcapFormatError(`${reader.path}: link type ${reader.header.linkType} not supported`);
  }
  if (reader.problem) stats.readProblems++;
  const out: ObserverEvent[] = [];
  table.closeAll(out);
  stats.events += out.length + 1;
  yield* out;
  const counters: Record<string, number> = { ...stats };
  yield makeEvent(origin, 'pipeline.counters', { stage: 'replay.pcap', counters }, lastUs) as ObserverEvent;
}

function ipKey(ip: Uint8Array, port: number): string {
  return `${Buffer.from(ip.buffer, ip.byteOffset, ip.byteLength).toString('hex')}:${port}`;
}

class FlowTable {
  /** Open flows by address pair, least recently active first. */
  private readonly flows = new Map<string, { flow: Flow; clientKey: string; buffered: number; fin: string | undefined }>();
  private readonly recentlyClosed = new Set<string>();
  private nextId = 1;
  private buffered = 0;
  private readonly flowCounters: FlowCounters;

  constructor(
    private readonly options: PcapReplayOptions,
    private readonly limits: PcapReplayLimits,
    private readonly stats: PcapStats,
    private readonly origin: EventOrigin,
  ) {
    this.flowCounters = stats;
  }

  segment(seg: TcpSegment, timeUs: number, out: ObserverEvent[]): void {
    this.stats.tcpSegments++;
    const port = this.options.serverPort;
    if (port !== undefined && seg.srcPort !== port && seg.dstPort !== port) {
      this.stats.ignoredSegments++;
      return;
    }
    if (seg.payload === undefined && seg.length > 0) this.stats.snapCut++;
    const src = ipKey(seg.srcIp, seg.srcPort);
    const dst = ipKey(seg.dstIp, seg.dstPort);
    const key = src < dst ? `${src}-${dst}` : `${dst}-${src}`;
    const newSyn = seg.syn && !seg.ackFlag;
    let entry = this.flows.get(key);
    if (entry && newSyn && entry.flow.client.reasm.isn !== seg.seq) {
      // The same addresses and ports again: a new connection.
      this.close(key, 'peer-closed', 'a new SYN on the same addresses and ports', timeUs, out);
      entry = undefined;
    }
    if (!entry) {
      if ((this.recentlyClosed.has(key) && !newSyn) || seg.rst || (!seg.syn && seg.length === 0)) {
        this.stats.staleSegments++;
        return;
      }
      const serverIsDst = this.serverIsDestination(seg);
      this.recentlyClosed.delete(key);
      while (this.flows.size >= this.limits.maxFlows) this.evictOldest('flow table full', timeUs, out);
      const [clientIp, clientPort, serverIp, serverPort] = serverIsDst
        ? [seg.srcIp, seg.srcPort, seg.dstIp, seg.dstPort]
        : [seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort];
      const flow = new Flow(
        {
          network: this.options.network,
          origin: this.origin,
          recordRaw: this.options.recordRaw ?? false,
          reorder: { maxReorderBytes: this.limits.maxReorderBytes, maxReorderSegments: this.limits.maxReorderSegments },
          counters: this.flowCounters,
        },
        this.nextId++,
        { clientIp, clientPort, serverIp, serverPort },
        safeNetgroup(clientIp),
        timeUs,
        out,
      );
      this.stats.flows++;
      entry = { flow, clientKey: serverIsDst ? src : dst, buffered: 0, fin: undefined };
    } else {
      this.flows.delete(key); // re-inserted below: most recently active last
    }
    this.flows.set(key, entry);
    const flow = entry.flow;
    flow.lastUs = timeUs;
    const fromClient = src === entry.clientKey;
    const side = fromClient ? flow.client : flow.server;
    const who = fromClient ? 'client' : 'server';
    if (seg.syn) side.reasm.syn(seg.seq);
    if (seg.rst) {
      this.close(key, 'peer-closed', `${who} reset the connection (RST)`, timeUs, out);
      return;
    }
    const dataSeq = seg.syn ? (seg.seq + 1) % 4294967296 : seg.seq;
    flow.segment(side, dataSeq, seg.length, seg.payload, seg.fin, timeUs, out);
    if (seg.fin) entry.fin ??= who;
    if (flow.client.reasm.finished && flow.server.reasm.finished) {
      this.close(key, 'peer-closed', `${entry.fin ?? who} closed first (FIN)`, timeUs, out);
      return;
    }
    const now = flow.buffered;
    this.buffered += now - entry.buffered;
    entry.buffered = now;
    if (this.buffered > this.stats.maxBuffered) this.stats.maxBuffered = this.buffered;
    while (this.buffered > this.limits.maxBufferedBytes && this.flows.size > 0) this.evictOldest('replay buffer limit', timeUs, out);
  }

  /** At the end of the capture: close every open flow. */
  closeAll(out: ObserverEvent[]): void {
    for (const [key, entry] of [...this.flows]) {
      const detail = entry.fin ? `${entry.fin} closed (FIN); capture ended` : 'capture ended with the connection open';
      this.close(key, entry.fin ? 'peer-closed' : 'shutdown', detail, entry.flow.lastUs, out);
    }
  }

  /**
   * Which endpoint is us, the server: the `serverPort` one; else the SYN's
   * receiver; else (mid-stream) the one on the network's default port; else the
   * lower port (clients use high ephemeral ports).
   */
  private serverIsDestination(seg: TcpSegment): boolean {
    const port = this.options.serverPort;
    if (port !== undefined) return seg.dstPort === port;
    if (seg.syn) return !seg.ackFlag;
    const known = this.options.network.defaultPort;
    if (seg.dstPort === known) return true;
    if (seg.srcPort === known) return false;
    return seg.dstPort <= seg.srcPort;
  }

  private evictOldest(detail: string, timeUs: number, out: ObserverEvent[]): void {
    const key = this.flows.keys().next().value;
    if (key === undefined) return;
    this.stats.flowsEvicted++;
    this.close(key, 'limit', detail, timeUs, out);
  }

  private close(key: string, reason: 'peer-closed' | 'limit' | 'shutdown', detail: string, timeUs: number, out: ObserverEvent[]): void {
    const entry = this.flows.get(key);
    if (!entry) return;
    const flow = entry.flow;
    for (const side of [flow.client, flow.server]) {
      flow.chunks(side, side.reasm.flush(), timeUs, out);
      const c = side.reasm.counters;
      this.stats.outOfOrder += c.outOfOrder;
      this.stats.duplicateBytes += c.duplicateBytes;
      this.stats.gaps += c.gaps;
      this.stats.gapBytes += c.gapBytes;
      this.stats.droppedBytes += c.droppedBytes + side.decoder.pending;
    }
    flow.close(reason, detail, timeUs, out);
    this.buffered -= entry.buffered;
    this.flows.delete(key);
    this.recentlyClosed.add(key);
    if (this.recentlyClosed.size > this.limits.maxClosedFlows) {
      this.recentlyClosed.delete(this.recentlyClosed.values().next().value!);
    }
  }
}

function safeNetgroup(ip: Uint8Array): string {
  try {
    return netgroupOf(ip);
  } catch {
    return 'unknown';
  }
}
