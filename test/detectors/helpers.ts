/**
 * Test helpers: events as the p2p source emits them (makeEvent), the Bitcoin
 * Core recordings decoded into events through the replay source's Flow (the
 * same path a pcap of them would take), and a detector engine with a
 * collecting publisher.
 */
import { readFileSync } from 'node:fs';
import { AlertManager, type AlertManagerOptions } from '../../src/consumers/alerts/manager.js';
import { buildDetectors } from '../../src/consumers/detectors/index.js';
import { DetectorEngine } from '../../src/consumers/detectors/engine.js';
import { makeEvent } from '../../src/events/envelope.js';
import type { AddrSummary, MessageSummary } from '../../src/events/message-summary.js';
import type { ConnRef, EventDataByType, EventType, MessageEvent, ObserverEvent } from '../../src/events/types.js';
import type { KnownCommand } from '../../src/protocol/messages/types.js';
import { ipFromString, netgroupOf } from '../../src/protocol/address.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { Flow } from '../../src/sources/replay/flow.js';
import { DEFAULT_REORDER_LIMITS } from '../../src/sources/replay/reassembly.js';
import { ipOfRemote } from '../../src/net/remote.js';

export const T0 = Date.UTC(2026, 0, 10, 12, 0, 0) * 1000;

export function ev<T extends EventType>(type: T, data: EventDataByType[T], timeUs: number, nodeId = 'obs-1'): ObserverEvent {
  return makeEvent({ nodeId, source: 'p2p' }, type, data, timeUs) as ObserverEvent;
}

let nextConn = 1;
export function conn(remote: string, direction: 'inbound' | 'outbound' = 'inbound'): ConnRef {
  return { id: nextConn++, direction, remote };
}

export function netgroup(remote: string): string {
  return netgroupOf(ipFromString(ipOfRemote(remote)));
}

export function opened(c: ConnRef, timeUs: number, nodeId = 'obs-1'): ObserverEvent {
  return ev(
    'connection.opened',
    { conn: c, local: '203.0.113.7:8333', network: 'mainnet', netgroup: netgroup(c.remote), transport: 'v1' },
    timeUs,
    nodeId,
  );
}

export function closed(c: ConnRef, timeUs: number, durationMs: number, handshakeComplete: boolean, nodeId = 'obs-1'): ObserverEvent {
  return ev(
    'connection.closed',
    {
      conn: c,
      network: 'mainnet',
      netgroup: netgroup(c.remote),
      reason: 'peer-closed',
      detail: 'the peer closed the connection',
      durationMs,
      handshakeComplete,
      bytesIn: 200,
      bytesOut: 200,
      messagesIn: 2,
      messagesOut: 2,
    },
    timeUs,
    nodeId,
  );
}

export function version(
  c: ConnRef,
  timeUs: number,
  o: { nonce?: string; userAgent?: string; startHeight?: number; offsetSec?: number } = {},
  nodeId = 'obs-1',
): ObserverEvent {
  return ev(
    'handshake.version',
    {
      conn: c,
      version: 70016,
      services: '1033',
      serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED'],
      userAgent: o.userAgent ?? '/Satoshi:27.0.0/',
      startHeight: o.startHeight ?? 850_000,
      relay: true,
      nonce: o.nonce ?? String(1_000_000_007n * BigInt(c.id)),
      timeOffsetSec: o.offsetSec ?? 0,
      receiver: '203.0.113.7:8333',
      sender: null,
    },
    timeUs,
    nodeId,
  );
}

export function message(
  c: ConnRef,
  dir: 'in' | 'out',
  command: KnownCommand,
  payload: MessageSummary['payload'],
  timeUs: number,
  nodeId = 'obs-1',
): ObserverEvent {
  // The caller pairs each command with its own summary (addrPayload for addr, ...).
  return ev('message', { conn: c, dir, size: 0, command, known: true, payload } as MessageEvent, timeUs, nodeId);
}

/** An addr payload as summarizeMessage makes it. */
export function addrPayload(addrs: string[], timeSec: number): AddrSummary {
  return { count: addrs.length, entries: addrs.map((a) => ({ time: timeSec, services: '1033', addr: a, port: 8333 })) };
}

/** A deterministic pseudo-random public IPv4 address. */
export function publicIp(i: number): string {
  const x = (Math.imul(i + 1, 2654435761) >>> 0).toString(2).padStart(32, '0');
  const b = [0, 8, 16, 24].map((s) => parseInt(x.slice(s, s + 8), 2));
  b[0] = 11 + (b[0]! % 100); // 11-110: clear of reserved ranges
  if (b[0] === 100 || b[0] === 127 || b[0] === 10) b[0] = 45;
  return b.join('.');
}

export interface Harness {
  engine: DetectorEngine;
  manager: AlertManager;
  published: ObserverEvent[];
  feed(events: ObserverEvent[]): void;
}

export function harness(config: Record<string, unknown> = {}, alerts: Partial<AlertManagerOptions> = {}): Harness {
  const built = buildDetectors(config);
  const published: ObserverEvent[] = [];
  const manager = new AlertManager({ nodeId: 'obs-1', source: 'detectors' }, (e) => published.push(e), { ...built.alerts, ...alerts });
  const engine = new DetectorEngine(built.detectors, manager);
  return {
    engine,
    manager,
    published,
    feed(events) {
      for (const e of events) engine.process(e);
    },
  };
}

// --- the Bitcoin Core recordings -------------------------------------------------

const FIX = new URL('../fixtures/bitcoind/p2p/', import.meta.url);

/**
 * A recording (`v1/conn0`, `v1-attacks/addrflood`, ...) as the events an observer
 * in the listening node's place emits: the client is an inbound peer, what it
 * sent is `in`. Timed by the recording's timeline.
 */
export function recordingEvents(name: string, nodeId = 'obs-1'): ObserverEvent[] {
  const up = new Uint8Array(readFileSync(new URL(`${name}.to-server.bin`, FIX)));
  const down = new Uint8Array(readFileSync(new URL(`${name}.to-client.bin`, FIX)));
  const timeline = readFileSync(new URL(`${name}.timeline.jsonl`, FIX), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { t: number; dir: 'to-server' | 'to-client'; offset: number; len: number });
  const out: ObserverEvent[] = [];
  const counters = { messages: 0, violations: 0, serverViolations: 0, resyncSkippedBytes: 0, bytesAfterFatal: 0, v2Flows: 0, v2Bytes: 0 };
  const startUs = Math.round(timeline[0]!.t * 1e6);
  const flow = new Flow(
    { network: NETWORKS.regtest, origin: { nodeId, source: 'replay' }, recordRaw: false, reorder: DEFAULT_REORDER_LIMITS, counters },
    1,
    { clientIp: ipFromString('127.0.0.1'), clientPort: 50412, serverIp: ipFromString('127.0.0.1'), serverPort: 18444 },
    'local',
    startUs,
    out,
  );
  let lastUs = startUs;
  for (const c of timeline) {
    const timeUs = Math.round(c.t * 1e6);
    lastUs = timeUs;
    const bytes = (c.dir === 'to-server' ? up : down).slice(c.offset, c.offset + c.len);
    flow.chunks(c.dir === 'to-server' ? flow.client : flow.server, [{ type: 'data', bytes }], timeUs, out);
  }
  flow.close('peer-closed', 'end of recording', lastUs, out);
  return out;
}
