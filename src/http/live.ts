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
import { CidrList, ipOfRemote } from '../consumers/detectors/net.js';
import { LINKINGLION_RANGES } from '../consumers/detectors/spy.js';
import { commandLabel } from '../consumers/metrics/labels.js';
import type { PeerRow, PeersTable } from '../consumers/peers/table.js';
import type { RecentEvents } from '../consumers/recent/ring.js';
import type { Alert, EventType, Incident, JsonValue, ObserverEvent } from '../events/types.js';
import type { AsnLookup } from './asn.js';

/** The subprotocol the dashboard speaks; the server answers with it (never with the token entry). */
export const LIVE_PROTOCOL = 'peer-observer.v1';

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

/** Per-peer relay counters beyond the peers table. */
export interface RelayCounts {
  /** addr/addrv2 entries by address network, received and sent. */
  addrIn: Record<string, number>;
  addrOut: Record<string, number>;
  /** Transaction announcements (inv entries of tx types) received, and getdata tx entries we sent. */
  invTxIn: number;
  getdataTxOut: number;
  txIn: number;
  /** tx received with no getdata of ours outstanding. */
  unsolicited: number;
  /** tx received whose txid/wtxid the peer never announced (only counted while we saw every entry it announced). */
  unannounced: number;
  /** false once an inv was bigger than its event's sample, so `unannounced` stops counting. */
  announcedComplete: boolean;
}

export interface LivePeer extends PeerRow {
  asn: number | null;
  /** The watch-list range (LinkingLion by default) the address is in. */
  listMatch: string | null;
  /** An active `spy` alert names this peer. */
  spy: boolean;
  relay: RelayCounts;
}

export interface MessageItem {
  timeUs: number;
  dir: string;
  command: string;
  size: number;
  /** The payload summary as JSON text, cut at 240 characters (attacker-controlled: render as text). */
  summary: string;
}

interface RelayState extends RelayCounts {
  announced: Set<string>;
  requested: number;
}

const MAX_ANNOUNCED = 512;
const MAX_WATCH_ITEMS = 200;
const MAX_CHANGED_ALERTS = 200;

interface Client {
  ws: WebSocket;
  watch: string | null;
  pending: MessageItem[];
}

const keyOf = (e: ObserverEvent, id: number) => `${e.nodeId}/${e.source}/${id}`;

function summarize(payload: JsonValue): string {
  const s = JSON.stringify(payload) ?? '';
  return s.length > 240 ? `${s.slice(0, 239)}…` : s;
}

function addrNetwork(entry: JsonValue): string {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return 'other';
  if (typeof entry.network === 'string') return entry.network.slice(0, 16);
  const a = typeof entry.addr === 'string' ? entry.addr : '';
  return a.includes(':') ? 'ipv6' : a.includes('.') ? 'ipv4' : 'other';
}

function bump(m: Record<string, number>, k: string, n = 1): void {
  m[k] = (m[k] ?? 0) + n;
}

const TX_TYPES = new Set(['tx', 'wtx', 'witness_tx']);

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
  private readonly list = new CidrList(LINKINGLION_RANGES.map((r) => ({ cidr: r.cidr, label: r.label })));
  private readonly observers = new Map<string, number>();
  private counts = new Map<string, number>();
  private readonly series: { t: number; counts: Record<string, number> }[] = [];
  private dirty = new Set<string>();
  private sent = new Set<string>();
  private readonly relay = new Map<string, RelayState>();
  private changedAlerts = new Map<string, Alert>();
  private changedIncidents = new Map<string, Incident>();
  private spies = new Set<string>();
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
    this.refreshSpies();
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

  private send(client: Client, msg: unknown): void {
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
        if (e.data.detector === 'spy' && e.data.subject.kind === 'peer') {
          if (e.data.status === 'active') this.spies.add(ipOfRemote(e.data.subject.id));
          else this.spies.delete(ipOfRemote(e.data.subject.id));
        }
        return;
      case 'incident':
        this.changedIncidents.set(e.data.id, e.data);
        return;
      case 'message': {
        const d = e.data;
        const key = keyOf(e, d.conn.id);
        this.dirty.add(key);
        const cmd = commandLabel(d.command);
        if (d.dir === 'in') this.counts.set(cmd, (this.counts.get(cmd) ?? 0) + 1);
        this.relayOf(key, cmd, d.dir, d.payload);
        for (const c of this.clients) {
          if (c.watch !== key) continue;
          if (c.pending.length >= MAX_WATCH_ITEMS) this.stats.watchOverflow++;
          else
            c.pending.push({ timeUs: e.timeUs, dir: d.dir, command: d.command.slice(0, 12), size: d.size, summary: summarize(d.payload) });
        }
        return;
      }
      default:
        if ('conn' in e.data) this.dirty.add(keyOf(e, e.data.conn.id));
    }
  }

  private relayOf(key: string, cmd: string, dir: string, payload: JsonValue): void {
    const interesting = cmd === 'addr' || cmd === 'addrv2' || cmd === 'inv' || cmd === 'getdata' || cmd === 'tx';
    let r = this.relay.get(key);
    if (!r) {
      if (!interesting) return;
      r = {
        addrIn: {},
        addrOut: {},
        invTxIn: 0,
        getdataTxOut: 0,
        txIn: 0,
        unsolicited: 0,
        unannounced: 0,
        announcedComplete: true,
        announced: new Set(),
        requested: 0,
      };
      this.relay.set(key, r);
    }
    const p = payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : {};
    if (cmd === 'addr' || cmd === 'addrv2') {
      const entries = Array.isArray(p.entries) ? p.entries : [];
      for (const entry of entries) bump(dir === 'in' ? r.addrIn : r.addrOut, addrNetwork(entry));
    } else if (cmd === 'inv' && dir === 'in') {
      const types = p.types && typeof p.types === 'object' && !Array.isArray(p.types) ? p.types : {};
      let txs = 0;
      for (const [t, n] of Object.entries(types)) if (TX_TYPES.has(t) && typeof n === 'number') txs += n;
      r.invTxIn += txs;
      const items = Array.isArray(p.items) ? p.items : [];
      if (typeof p.count === 'number' && p.count > items.length) r.announcedComplete = false;
      for (const it of items) {
        if (it && typeof it === 'object' && !Array.isArray(it) && typeof it.hash === 'string' && TX_TYPES.has(String(it.type))) {
          if (r.announced.size >= MAX_ANNOUNCED) r.announced.delete(r.announced.values().next().value!);
          r.announced.add(it.hash);
        }
      }
    } else if (cmd === 'getdata' && dir === 'out') {
      const types = p.types && typeof p.types === 'object' && !Array.isArray(p.types) ? p.types : {};
      for (const [t, n] of Object.entries(types)) {
        if (!TX_TYPES.has(t) || typeof n !== 'number') continue;
        r.getdataTxOut += n;
        r.requested += n;
      }
    } else if (cmd === 'tx' && dir === 'in') {
      r.txIn++;
      if (r.requested > 0) r.requested--;
      else r.unsolicited++;
      const known = [p.txid, p.wtxid].some((h) => typeof h === 'string' && r.announced.has(h));
      if (!known && r.announcedComplete) r.unannounced++;
    }
  }

  private recentMessages(key: string): MessageItem[] {
    const out: MessageItem[] = [];
    for (const e of this.o.recent.latest(1000, new Set(['message']))) {
      if (e.type !== 'message' || keyOf(e, e.data.conn.id) !== key) continue;
      const d = e.data;
      out.push({ timeUs: e.timeUs, dir: d.dir, command: d.command.slice(0, 12), size: d.size, summary: summarize(d.payload) });
      if (out.length >= 50) break;
    }
    return out.reverse();
  }

  private refreshSpies(): void {
    const store = this.o.alerts?.();
    if (!store) return;
    this.spies = new Set(
      store
        .alerts({ status: 'active', detector: 'spy', limit: 1000 })
        .filter((a) => a.subject.kind === 'peer')
        .map((a) => ipOfRemote(a.subject.id)),
    );
  }

  private live(row: PeerRow): LivePeer {
    const ip = ipOfRemote(row.address);
    const r = this.relay.get(row.key);
    const relay: RelayCounts = r
      ? {
          addrIn: r.addrIn,
          addrOut: r.addrOut,
          invTxIn: r.invTxIn,
          getdataTxOut: r.getdataTxOut,
          txIn: r.txIn,
          unsolicited: r.unsolicited,
          unannounced: r.unannounced,
          announcedComplete: r.announcedComplete,
        }
      : { addrIn: {}, addrOut: {}, invTxIn: 0, getdataTxOut: 0, txIn: 0, unsolicited: 0, unannounced: 0, announcedComplete: true };
    return {
      ...row,
      asn: this.o.asn?.lookup(row.address) ?? null,
      listMatch: this.list.match(ip)?.label ?? null,
      spy: this.spies.has(ip),
      relay,
    };
  }

  snapshot(): unknown {
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
    const point = { t, counts: Object.fromEntries(this.counts) };
    this.counts = new Map();
    this.series.push(point);
    if (this.series.length > this.seriesLength) this.series.shift();
    this.refreshSpies();
    const all = this.o.peers.peers({ state: 'all' });
    const present = new Set<string>();
    const changed: LivePeer[] = [];
    for (const row of all) {
      present.add(row.key);
      if (this.dirty.has(row.key) || !this.sent.has(row.key)) changed.push(this.live(row));
    }
    const gone: string[] = [];
    for (const k of this.sent) if (!present.has(k)) gone.push(k);
    for (const k of this.relay.keys()) if (!present.has(k)) this.relay.delete(k);
    this.sent = present;
    this.dirty = new Set();
    const alerts = [...this.changedAlerts.values()].slice(-MAX_CHANGED_ALERTS);
    const incidents = [...this.changedIncidents.values()].slice(-MAX_CHANGED_ALERTS);
    this.changedAlerts = new Map();
    this.changedIncidents = new Map();
    if (this.clients.size === 0) return;
    const delta = JSON.stringify({
      type: 'delta',
      nowUs: Date.now() * 1000,
      observers: [...this.observers.keys()],
      point,
      peers: changed,
      gone,
      alerts,
      incidents,
      stats: this.liveStats(),
    });
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
