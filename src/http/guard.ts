/**
 * Who may hold a connection to the HTTP server, and for how long.
 *
 * The HTTP server answers before it knows who is asking (the token is in the
 * request head), so an attacker who opens connections and sends nothing must
 * not be able to fill it. node:http's own `maxConnections` refuses the *new*
 * connection when full, which hands the server to whoever connected first; and
 * its header timeout half-closes the socket, which then keeps counting until
 * the peer closes too (FIN-WAIT-2 on our side). This guard instead:
 *
 * - caps connections per source (an IPv4 address, an IPv6 /64: one host's
 *   share) and in total;
 * - when a cap is reached, evicts a connection that is only *waiting* (no
 *   request head yet, or idle between keep-alive requests) to make room for the
 *   new one: the one that has waited longest, from the source with the most
 *   connections (so one source cannot push out another), and refuses the new
 *   connection only when every connection in the way is busy with a request;
 * - destroys (never half-closes) a connection whose request head has not
 *   arrived within `headersTimeoutMs` of accept, which stays idle between
 *   requests for `idleTimeoutMs`, or whose response is not taken within
 *   `responseTimeoutMs` (pipelining without reading), so a stuck socket frees
 *   its slot on time.
 *
 * A client that sends its request right after connecting is therefore served
 * however many idle connections are held against the server: to push it out
 * before its head is read, an attacker must open a cap's worth of new
 * connections in that instant. Every eviction, refusal and timeout is counted
 * (`stats()`, shown by /healthz).
 */
import type { Socket } from 'node:net';
import { ip16 } from '../net/remote.js';

export interface GuardOptions {
  /** Most connections at once (WebSockets included). Default 256. */
  maxConnections?: number;
  /** Most connections from one source (IPv4 address, IPv6 /64). Default 32. */
  maxPerSource?: number;
  /** A connection whose first request head is not complete by then is destroyed. Default 10 s. */
  headersTimeoutMs?: number;
  /** A keep-alive connection with no request for this long is destroyed. Default 5 s. */
  idleTimeoutMs?: number;
  /**
   * A connection whose response has not been taken for this long (a client
   * that pipelines requests and never reads) is destroyed. Default 20 s.
   */
  responseTimeoutMs?: number;
  /**
   * Most requests in flight on one connection (HTTP/1.1 pipelining): node:http
   * parses them all and holds every response until the client reads, so
   * without a cap one connection can queue any amount of memory. Default 16.
   */
  maxPipelined?: number;
}

export const GUARD_DEFAULTS = Object.freeze({
  maxConnections: 256,
  maxPerSource: 32,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 5_000,
  responseTimeoutMs: 20_000,
  maxPipelined: 16,
});

export interface GuardStats {
  /** Connections open now, and the most at once. */
  open: number;
  peakOpen: number;
  accepted: number;
  /** Waiting connections destroyed to make room for a new one (per-source or total cap). */
  evicted: number;
  /** New connections refused because every connection in the way was busy. */
  refused: number;
  /** Destroyed because no request head arrived within headersTimeoutMs. */
  headersTimeouts: number;
  /** Destroyed because they sat idle between requests for idleTimeoutMs. */
  idleTimeouts: number;
  /** Destroyed because a response was not taken within responseTimeoutMs. */
  responseTimeouts: number;
  /** Destroyed because they had more than maxPipelined requests in flight. */
  pipelineOverflows: number;
}

type State = 'waiting' | 'busy' | 'upgraded';

interface Conn {
  socket: Socket;
  source: string;
  state: State;
  /** Requests in flight (pipelining). */
  busy: number;
  /** When the connection last became waiting (accept, or its last response done). */
  since: number;
  timer: NodeJS.Timeout | undefined;
}

/** The share key of an address: IPv4 (also IPv4-mapped) as is, IPv6 by /64. */
export function sourceOf(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const ip = ip16(address);
  if (!ip) return address;
  const mapped = ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  if (mapped) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  return `${Buffer.from(ip.subarray(0, 8)).toString('hex')}/64`;
}

export class ConnectionGuard {
  private readonly o: Required<GuardOptions>;
  private readonly bySource = new Map<string, Set<Conn>>();
  private readonly bySocket = new WeakMap<object, Conn>();
  private open = 0;
  private readonly counts: Omit<GuardStats, 'open'> = {
    peakOpen: 0,
    accepted: 0,
    evicted: 0,
    refused: 0,
    headersTimeouts: 0,
    idleTimeouts: 0,
    responseTimeouts: 0,
    pipelineOverflows: 0,
  };

  constructor(options: GuardOptions = {}) {
    this.o = { ...GUARD_DEFAULTS, ...stripUndefined(options) };
  }

  /** A new TCP connection (the server's 'connection' event): admit it, making room if need be, or destroy it. */
  accept(socket: Socket): void {
    const source = sourceOf(socket.remoteAddress);
    const mine = this.bySource.get(source);
    if (mine && mine.size >= this.o.maxPerSource) {
      if (!this.evictFrom(mine)) return this.refuse(socket);
    } else if (this.open >= this.o.maxConnections) {
      if (!this.evictAnywhere()) return this.refuse(socket);
    }
    const conn: Conn = { socket, source, state: 'waiting', busy: 0, since: Date.now(), timer: undefined };
    let set = this.bySource.get(source);
    if (!set) this.bySource.set(source, (set = new Set()));
    set.add(conn);
    this.bySocket.set(socket, conn);
    this.open++;
    this.counts.accepted++;
    if (this.open > this.counts.peakOpen) this.counts.peakOpen = this.open;
    this.arm(conn, this.o.headersTimeoutMs, 'headersTimeouts');
    socket.once('close', () => this.forget(conn));
  }

  /** A request head arrived on the socket (the server's 'request' event). */
  requestStarted(socket: Socket): void {
    const conn = this.bySocket.get(socket);
    if (!conn || conn.state === 'upgraded') return;
    conn.busy++;
    conn.state = 'busy';
    if (conn.busy > this.o.maxPipelined) {
      this.counts.pipelineOverflows++;
      return this.drop(conn);
    }
    this.arm(conn, this.o.responseTimeoutMs, 'responseTimeouts');
  }

  /** A response ended (finished or aborted): the connection waits for its next request. */
  requestDone(socket: Socket): void {
    const conn = this.bySocket.get(socket);
    if (!conn || conn.state !== 'busy') return;
    conn.busy = Math.max(0, conn.busy - 1);
    if (conn.socket.destroyed) return;
    // The next pipelined response has its own time.
    if (conn.busy > 0) return this.arm(conn, this.o.responseTimeoutMs, 'responseTimeouts');
    conn.state = 'waiting';
    conn.since = Date.now();
    this.arm(conn, this.o.idleTimeoutMs, 'idleTimeouts');
  }

  /** The socket became a WebSocket: no HTTP timeouts, not evictable (the live hub bounds and polices its clients). */
  upgraded(socket: Socket): void {
    const conn = this.bySocket.get(socket);
    if (!conn) return;
    conn.state = 'upgraded';
    this.disarm(conn);
  }

  stats(): GuardStats {
    return { open: this.open, ...this.counts };
  }

  /** Destroy every connection (server shutdown). */
  closeAll(): void {
    for (const set of this.bySource.values()) for (const conn of set) conn.socket.destroy();
  }

  private refuse(socket: Socket): void {
    this.counts.refused++;
    socket.destroy();
  }

  /** Destroy the connection of `set` that has waited longest; false when none is waiting. */
  private evictFrom(set: Set<Conn>): boolean {
    let victim: Conn | undefined;
    for (const conn of set) if (conn.state === 'waiting' && (!victim || conn.since < victim.since)) victim = conn;
    if (!victim) return false;
    this.counts.evicted++;
    this.drop(victim);
    return true;
  }

  /** The total cap: evict from the source holding the most connections that has a waiting one. */
  private evictAnywhere(): boolean {
    const sources = [...this.bySource.values()].sort((a, b) => b.size - a.size);
    for (const set of sources) if (this.evictFrom(set)) return true;
    return false;
  }

  private arm(conn: Conn, ms: number, counter: 'headersTimeouts' | 'idleTimeouts' | 'responseTimeouts'): void {
    this.disarm(conn);
    const state = conn.state;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      if (conn.state !== state) return;
      this.counts[counter]++;
      this.drop(conn);
    }, ms);
    conn.timer.unref();
  }

  private disarm(conn: Conn): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
  }

  /** Destroy now (no half-close: the slot is free at once) and forget. */
  private drop(conn: Conn): void {
    this.forget(conn);
    conn.socket.destroy();
  }

  private forget(conn: Conn): void {
    const set = this.bySource.get(conn.source);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.bySource.delete(conn.source);
    this.open--;
    this.disarm(conn);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
