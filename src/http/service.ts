/**
 * What `--http` adds to a pipeline: the consumers the HTTP server reads (metrics,
 * the peers table, the recent-events ring), each on its own bus subscription,
 * and the server itself. Start it before the sources publish; close it after the
 * bus has closed (the consumers have then taken everything).
 */
import type { Bus } from '../bus/bus.js';
import type { AlertStore } from '../consumers/alerts/types.js';
import { startMetrics, type MetricsOptions } from '../consumers/metrics/metrics.js';
import { startPeersTable, type PeersTableOptions } from '../consumers/peers/table.js';
import { startRecentEvents, type RecentEventsOptions } from '../consumers/recent/ring.js';
import type { HealthRegistry } from '../health/registry.js';
import { apiRouter } from './api.js';
import { registerHttpMetrics } from './metrics.js';
import type { AsnLookup } from './asn.js';
import { LiveHub, type LiveOptions } from './live.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';
import { loadStaticFiles } from './static.js';

export interface HttpServiceOptions {
  host: string;
  port: number;
  token?: string | undefined;
  /** Host names answered besides loopback and the bound address (server.ts). */
  allowedHosts?: readonly string[] | undefined;
  /** Connection caps and timeouts (guard.ts). */
  connections?: HttpServerOptions['connections'];
  /** Only events from these observers (the embedded bus has one; over NATS, our own node). */
  nodeIds?: readonly string[];
  metrics?: MetricsOptions;
  peers?: PeersTableOptions;
  recent?: RecentEventsOptions;
  /** The alert manager's store, when alerts run in this process. */
  alerts?: () => AlertStore | undefined;
  health?: () => Record<string, unknown>;
  /** The process's health registry: /healthz is `degraded` (503) while it has reasons. */
  healthRegistry?: HealthRegistry;
  /**
   * The dashboard (`/` and the live feed `/ws`): on unless false. `asn` maps
   * peers to ASNs (--asmap / --geoip-asn); `distDir` is where the built files
   * are (default web/dist); `live` tunes the feed (tick, bounds).
   */
  dashboard?: false | { asn?: AsnLookup; distDir?: string; live?: Partial<Omit<LiveOptions, 'peers' | 'recent' | 'alerts' | 'asn'>> };
  /** Replace the dashboard's hooks (tests). */
  fallback?: HttpServerOptions['fallback'];
  onUpgrade?: HttpServerOptions['onUpgrade'];
}

export interface HttpService {
  server: HttpServer;
  metrics: ReturnType<typeof startMetrics>;
  peers: ReturnType<typeof startPeersTable>;
  recent: ReturnType<typeof startRecentEvents>;
  /** The dashboard's live feed, when the dashboard is on. */
  live?: LiveHub;
  /** Close the server (call after the bus closed). Idempotent. */
  close(): Promise<void>;
}

export async function startHttpService(bus: Bus, options: HttpServiceOptions): Promise<HttpService> {
  const nodeIds = options.nodeIds ? { nodeIds: options.nodeIds } : {};
  const asn = options.dashboard === false ? undefined : options.dashboard?.asn;
  const metrics = startMetrics(bus, { ...options.metrics, ...(asn ? { asn } : {}), ...nodeIds });
  const peers = startPeersTable(bus, { ...options.peers, ...nodeIds });
  const recent = startRecentEvents(bus, { ...options.recent, ...nodeIds });
  metrics.metrics.watchConsumer('peers', () => peers.subscription.dropped);
  metrics.metrics.watchConsumer('events', () => recent.subscription.dropped);
  const dash = options.dashboard === false ? undefined : (options.dashboard ?? {});
  const files = dash ? loadStaticFiles(dash.distDir) : undefined;
  const live = dash
    ? new LiveHub(bus, {
        ...dash.live,
        peers: peers.table,
        recent: recent.recent,
        ...(options.alerts ? { alerts: options.alerts } : {}),
        ...(dash.asn ? { asn: dash.asn } : {}),
        ...nodeIds,
      })
    : undefined;
  if (live) metrics.metrics.watchConsumer('dashboard', () => live.liveStats().eventsDropped);
  const router = apiRouter({
    metrics: metrics.metrics,
    peers: peers.table,
    recent: recent.recent,
    ...(options.alerts ? { alerts: options.alerts } : {}),
    ...(options.healthRegistry ? { healthCheck: () => options.healthRegistry!.check() } : {}),
    health: () => ({ ...options.health?.(), http: server?.stats(), ...(live ? { dashboard: live.liveStats() } : {}) }),
  });
  let server: HttpServer | undefined;
  registerHttpMetrics(metrics.metrics.registry, () => server?.stats(), options.healthRegistry);
  try {
    server = await startHttpServer({
      host: options.host,
      port: options.port,
      token: options.token,
      router,
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...(options.connections ? { connections: options.connections } : {}),
      ...(files ? { fallback: (ctx) => files.reply(ctx.url.pathname), isPublic: files.isPublic } : {}),
      ...(live ? { onUpgrade: live.upgrade } : {}),
      ...(options.fallback ? { fallback: options.fallback } : {}),
      ...(options.onUpgrade ? { onUpgrade: options.onUpgrade } : {}),
    });
  } catch (err) {
    for (const s of [metrics, peers, recent]) s.subscription.unsubscribe();
    live?.close();
    throw err;
  }
  return {
    server,
    metrics,
    peers,
    recent,
    ...(live ? { live } : {}),
    async close() {
      await Promise.all([metrics.done, peers.done, recent.done, live?.done]);
      live?.close();
      await server.close();
    },
  };
}
