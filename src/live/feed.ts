/**
 * The dashboard's live feed over `/ws`, declared once: the server
 * (src/http/live.ts) builds these messages and the page (web/src/state.ts,
 * web/src/live.ts) reads them. Types only, plus the subprotocol name: nothing
 * here runs in Node or needs it, so the page's bundle takes it as it is.
 *
 * Server → browser: a `snapshot` when the browser connects, then one `delta`
 * per tick, and `messages` for the peer the browser watches. Browser → server
 * (at most 1 KiB of JSON): `watch` a peer's messages, `unwatch`.
 */
import type { RelayCounts } from '../consumers/relay/relay.js';
import type { PeerRow } from '../consumers/peers/table.js';
import type { Alert, Incident } from '../events/types.js';

export type { RelayCounts };

/** The subprotocol the dashboard speaks; the server answers with it (never with the token entry). */
export const LIVE_PROTOCOL = 'peer-observer.v1';

/** The live hub's own counters. */
export interface LiveStats {
  clients: number;
  /** Clients dropped because their socket buffer outgrew maxBufferedBytes. */
  slowClientsDropped: number;
  /** Upgrades refused because maxClients were connected. */
  clientsRefused: number;
  /** Events the hub's bus subscription dropped (queue full). */
  eventsDropped: number;
  /** Watched-peer messages not sent because a client's per-tick list was full. */
  watchOverflow: number;
  deltasSent: number;
}

/** A peers-table row with what the dashboard adds. */
export interface LivePeer extends PeerRow {
  asn: number | null;
  /** The watch-list range (LinkingLion by default) the address is in. */
  listMatch: string | null;
  /** An active `spy` alert names this peer. */
  spy: boolean;
  relay: RelayCounts;
}

/** One message of a watched peer. */
export interface MessageItem {
  timeUs: number;
  dir: string;
  command: string;
  size: number;
  /** The payload summary as JSON text, cut at 240 characters (attacker-controlled: render as text). */
  summary: string;
}

/** Messages received per command label in one tick. */
export interface SeriesPoint {
  /** The tick's start, ms since the epoch. */
  t: number;
  counts: Record<string, number>;
}

export interface LiveSnapshot {
  type: 'snapshot';
  v: 1;
  nowUs: number;
  tickMs: number;
  observers: string[];
  asnSource: string | null;
  alertsEnabled: boolean;
  series: SeriesPoint[];
  peers: LivePeer[];
  alerts: Alert[];
  incidents: Incident[];
  stats: LiveStats;
}

export interface LiveDelta {
  type: 'delta';
  nowUs: number;
  observers: string[];
  point: SeriesPoint;
  /** Peers that changed (or are new) since the last delta. */
  peers: LivePeer[];
  /** Keys of peers gone since the last delta. */
  gone: string[];
  alerts: Alert[];
  incidents: Incident[];
  stats: LiveStats;
}

export interface LiveMessages {
  type: 'messages';
  key: string;
  /** True: these replace what the page holds (the start of a watch). */
  reset: boolean;
  items: MessageItem[];
}

/** Everything the server sends. */
export type LiveServerMessage = LiveSnapshot | LiveDelta | LiveMessages;

/** Everything the page sends. */
export type LiveClientMessage = { type: 'watch'; key: string } | { type: 'unwatch' };
