/**
 * The dashboard's live feed over `/ws` (the `ws` package): a snapshot when a
 * browser connects, then one batched delta per tick (default 1 s), whatever the
 * event rate. The hub reads the bus on its own bounded subscription (drops
 * counted) and keeps only small aggregates: message counts per command per
 * second (last 5 minutes), which peers changed, per-peer relay counters, and the
 * alerts that changed. Peer rows come from the peers table (consumers/peers).
 *
 * Never blocks the pipeline: sending is `ws.send` into the socket's buffer; a
 * client whose buffer holds more than `maxBufferedBytes` when a delta is due
 * is dropped (closed) and counted, so a slow browser costs memory bounded by
 * that figure, and nothing else waits for it.
 *
 * Browser → server messages (at most 1 KiB, JSON): `{type:'watch', key}` to
 * receive one peer's messages live (its last ones from the recent-events ring
 * first), `{type:'unwatch'}`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Bus, Subscription } from '../bus/bus.js';
import type { AlertStore } from '../consumers/alerts/types.js';
import { commandLabel } from '../consumers/metrics/labels.js';
import type { PeerRow, PeersTable } from '../consumers/peers/table.js';
import type { RecentEvents } from '../consumers/recent/ring.js';
import { PeerFlags } from '../consumers/relay/flags.js';
import { RelayTracker } from '../consumers/relay/relay.js';
import type { Alert, EventType, Incident, MessageEvent, ObserverEvent } from '../events/types.js';
import {
  LIVE_PROTOCOL,
  type LiveDelta,
  type LivePeer,
  type LiveServerMessage,
  type LiveSnapshot,
  type LiveStats,
  type MessageItem,
  type SeriesPoint,
} from '../live/feed.js';
import type { AsnLookup } from './asn.js';
import { connectionKey } from '../events/conn-key.js';

const LIVE_TYPES: readonly EventType[] = [
  'connection.opened',
  'connection.closed',
  'message',
  'handshake.version',
  'handshake.complete',
  'ping.latency',
  'violation',
  'peer.stats',
  'alert',
  'incident',
];

export interface LiveOptions {
  peers: PeersTable;
  recent: RecentEvents;
  alerts?: () => AlertStore | undefined;
  asn?: AsnLookup | undefined;
  nodeIds?: readonly string[];
  /** Delta period. Default 1000 ms. */
  tickMs?: number;
  /** Seconds of per-command rates kept and sent in the snapshot. Default 300. */
  seriesSeconds?: number;
  /** A client with more than this queued in its socket when a delta is due is dropped. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Most browsers at once. Default 32. */
  maxClients?: number;
  /** The hub's bus subscription queue. Default 100,000 events. */
  maxQueue?: number;
}

const MAX_WATCH_ITEMS = 200;
const MAX_CHANGED_ALERTS = 200;

interface Client {
  ws: WebSocket;
  watch: string | null;
  pending: MessageItem[];
}

function summarize(payload: MessageEvent['payload']): string {
  const s = JSON.stringify(payload) ?? '';
  return s.length > 240 ? `${s.slice(0, 239)}…` : s;
}

export class LiveHub {
  private readonly subscription: Subscription;
  readonly done: Promise<void>;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly timer: NodeJS.Timeout;
  private readonly tickMs: number;
  private readonly seriesLength: number;
  private readonly maxBuffered: number;
  private readonly maxClients: number;
  private readonly observers = new Map<string, number>();
  private counts = new Map<string, number>();
  private readonly series: SeriesPoint[] = [];
  private dirty = new Set<string>();
  private sent = new Set<string>();
  /** Relay analytics per connection (consumers/relay): the hub only feeds and reads it. */
  readonly relay: RelayTracker;
  private changedAlerts = new Map<string, Alert>();
  private changedIncidents = new Map<string, Incident>();
  /** Watch-list and spy flags per address (consumers/relay). */
  private readonly flags: PeerFlags;
  private stats: Omit<LiveStats, 'clients' | 'eventsDropped'> = {
    slowClientsDropped: 0,
    clientsRefused: 0,
    watchOverflow: 0,
    deltasSent: 0,
  };

  constructor(
    bus: Bus,
    private readonly o: LiveOptions,
  ) {
    this.tickMs = o.tickMs ?? 1000;
    this.seriesLength = Math.max(10, Math.round(((o.seriesSeconds ?? 300) * 1000) / this.tickMs));
    this.maxBuffered = o.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.maxClients = o.maxClients ?? 32;
    this.relay = new RelayTracker();
    this.flags = new PeerFlags(o.alerts);
    const subscription = bus.subscribe({
      types: LIVE_TYPES,
      maxQueue: o.maxQueue ?? 100_000,
      ...(o.nodeIds ? { nodeIds: o.nodeIds } : {}),
    });
    this.subscription = subscription;
    this.done = (async () => {
      for await (const e of subscription) this.handle(e);
    })();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1024,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false),
    });
    this.timer = setInterval(() => this.tick(), this.tickMs).unref();
  }

  liveStats(): LiveStats {
    return { clients: this.clients.size, eventsDropped: this.subscription.dropped, ...this.stats };
  }

  /** For server.ts's onUpgrade (after the token check). */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.clients.size >= this.maxClients) {
      this.stats.clientsRefused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
  };

  private attach(ws: WebSocket): void {
    const client: Client = { ws, watch: null, pending: [] };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      const m = msg as { type?: unknown; key?: unknown };
      if (m.type === 'watch' && typeof m.key === 'string' && m.key.length <= 256) {
        client.watch = m.key;
        client.pending = this.recentMessages(m.key);
        this.send(client, { type: 'messages', key: m.key, reset: true, items: client.pending });
        client.pending = [];
      } else if (m.type === 'unwatch') {
        client.watch = null;
        client.pending = [];
      }
    });
    this.send(client, this.snapshot());
  }

  private send(client: Client, msg: LiveServerMessage): void {
    const ws = client.ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.maxBuffered) {
      this.stats.slowClientsDropped++;
      this.clients.delete(client);
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(msg));
  }

  handle(e: ObserverEvent): void {
    this.observers.set(e.nodeId, e.timeUs);
    switch (e.type) {
      case 'alert':
        this.changedAlerts.set(e.data.id, e.data);
        this.flags.observeAlert(e.data);
        return;
      case 'incident':
        this.changedIncidents.set(e.data.id, e.data);
        return;
      case 'message': {
        const d = e.data;
        const key = connectionKey(e, d.conn.id);
        this.dirty.add(key);
        const cmd = commandLabel(d.command);
        if (d.dir === 'in') this.counts.set(cmd, (this.counts.get(cmd) ?? 0) + 1);
        this.relay.observe(key, d);
        for (const c of this.clients) {
          if (c.watch !== key) continue;
          if (c.pending.length >= MAX_WATCH_ITEMS) this.stats.watchOverflow++;
          else
            c.pending.push({ timeUs: e.timeUs, dir: d.dir, command: d.command.slice(0, 12), size: d.size, summary: summarize(d.payload) });
        }
        return;
      }
      default:
        if ('conn' in e.data) this.dirty.add(connectionKey(e, e.data.conn.id));
    }
  }

  private recentMessages(key: string): MessageItem[] {
    const out: MessageItem[] = [];
    for (const e of this.o.recent.latest(1000, new Set(['message']))) {
      if (e.type !== 'message' || connectionKey(e, e.data.conn.id) !== key) continue;
      const d = e.data;
      out.push({ timeUs: e.timeUs, dir: d.dir, command: d.command.slice(0, 12), size: d.size, summary: summarize(d.payload) });
      if (out.length >= 50) break;
    }
    return out.reverse();
  }

  private live(row: PeerRow): LivePeer {
    return {
      ...row,
      asn: this.o.asn?.lookup(row.address) ?? null,
      ...this.flags.of(row.address),
      relay: this.relay.counts(row.key),
    };
  }

  snapshot(): LiveSnapshot {
    const store = this.o.alerts?.();
    const peers = this.o.peers.peers({ state: 'all' });
    for (const p of peers) this.sent.add(p.key);
    return {
      type: 'snapshot',
      v: 1,
      nowUs: Date.now() * 1000,
      tickMs: this.tickMs,
      observers: [...this.observers.keys()],
      asnSource: this.o.asn?.source ?? null,
      alertsEnabled: store !== undefined,
      series: this.series,
      peers: peers.map((p) => this.live(p)),
      alerts: store?.alerts({ limit: 500 }) ?? [],
      incidents: store?.incidents({ limit: 200 }) ?? [],
      stats: this.liveStats(),
    };
  }

  /** Build and send one delta (the timer calls it; tests may too). */
  tick(): void {
    const t = Math.floor(Date.now() / this.tickMs) * this.tickMs;
    const point: SeriesPoint = { t, counts: Object.fromEntries(this.counts) };
    this.counts = new Map();
    this.series.push(point);
    if (this.series.length > this.seriesLength) this.series.shift();
    this.flags.refresh();
    const all = this.o.peers.peers({ state: 'all' });
    const present = new Set<string>();
    const changed: LivePeer[] = [];
    for (const row of all) {
      present.add(row.key);
      if (this.dirty.has(row.key) || !this.sent.has(row.key)) changed.push(this.live(row));
    }
    const gone: string[] = [];
    for (const k of this.sent) if (!present.has(k)) gone.push(k);
    this.relay.retain(present);
    this.sent = present;
    this.dirty = new Set();
    const alerts = [...this.changedAlerts.values()].slice(-MAX_CHANGED_ALERTS);
    const incidents = [...this.changedIncidents.values()].slice(-MAX_CHANGED_ALERTS);
    this.changedAlerts = new Map();
    this.changedIncidents = new Map();
    if (this.clients.size === 0) return;
    const message: LiveDelta = {
      type: 'delta',
      nowUs: Date.now() * 1000,
      observers: [...this.observers.keys()],
      point,
      peers: changed,
      gone,
      alerts,
      incidents,
      stats: this.liveStats(),
    };
    const delta = JSON.stringify(message);
    for (const c of [...this.clients]) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount > this.maxBuffered) {
        this.stats.slowClientsDropped++;
        this.clients.delete(c);
        c.ws.terminate();
        continue;
      }
      c.ws.send(delta);
      if (c.watch !== null && c.pending.length) {
        this.send(c, { type: 'messages', key: c.watch, reset: false, items: c.pending });
        c.pending = [];
      }
    }
    this.stats.deltasSent++;
  }

  /** Close every client and stop the timer (the subscription ends with the bus). */
  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.wss.close();
    this.subscription.unsubscribe();
  }
}
