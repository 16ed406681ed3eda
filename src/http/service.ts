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
import { apiRouter } from './api.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';

export interface HttpServiceOptions {
  host: string;
  port: number;
  token?: string | undefined;
  /** Only events from these observers (the embedded bus has one; over NATS, our own node). */
  nodeIds?: readonly string[];
  metrics?: MetricsOptions;
  peers?: PeersTableOptions;
  recent?: RecentEventsOptions;
  /** The alert manager's store, when alerts run in this process. */
  alerts?: () => AlertStore | undefined;
  health?: () => Record<string, unknown>;
  /** Dashboard hooks (issue 6). */
  fallback?: HttpServerOptions['fallback'];
  onUpgrade?: HttpServerOptions['onUpgrade'];
}

export interface HttpService {
  server: HttpServer;
  metrics: ReturnType<typeof startMetrics>;
  peers: ReturnType<typeof startPeersTable>;
  recent: ReturnType<typeof startRecentEvents>;
  /** Close the server (call after the bus closed). Idempotent. */
  close(): Promise<void>;
}

export async function startHttpService(bus: Bus, options: HttpServiceOptions): Promise<HttpService> {
  const nodeIds = options.nodeIds ? { nodeIds: options.nodeIds } : {};
  const metrics = startMetrics(bus, { ...options.metrics, ...nodeIds });
  const peers = startPeersTable(bus, { ...options.peers, ...nodeIds });
  const recent = startRecentEvents(bus, { ...options.recent, ...nodeIds });
  metrics.metrics.watchConsumer('peers', () => peers.subscription.dropped);
  metrics.metrics.watchConsumer('events', () => recent.subscription.dropped);
  const router = apiRouter({
    metrics: metrics.metrics,
    peers: peers.table,
    recent: recent.recent,
    ...(options.alerts ? { alerts: options.alerts } : {}),
    ...(options.health ? { health: options.health } : {}),
  });
  let server: HttpServer;
  try {
    server = await startHttpServer({
      host: options.host,
      port: options.port,
      token: options.token,
      router,
      ...(options.fallback ? { fallback: options.fallback } : {}),
      ...(options.onUpgrade ? { onUpgrade: options.onUpgrade } : {}),
    });
  } catch (err) {
    for (const s of [metrics, peers, recent]) s.subscription.unsubscribe();
    throw err;
  }
  return {
    server,
    metrics,
    peers,
    recent,
    async close() {
      await Promise.all([metrics.done, peers.done, recent.done]);
      await server.close();
    },
  };
}
