/**
 * The HTTP server's own counters and the health status as Prometheus series,
 * beside the observer's: a connection flood against the API, rebinding attempts
 * and a degraded /healthz are visible on the same scrape (docs/metrics.md).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HealthRegistry } from '../health/registry.js';
import type { HttpServerStats } from './server.js';

const PREFIX = 'peer_observer_';

export function registerHttpMetrics(registry: Registry, stats: () => HttpServerStats | undefined, health?: HealthRegistry): void {
  const registers = [registry];
  new Gauge({
    name: PREFIX + 'http_connections',
    help: 'Connections open to the HTTP server now (WebSockets included).',
    registers,
    collect() {
      const s = stats();
      if (s) this.set(s.connections.open);
    },
  });
  new Counter({
    name: PREFIX + 'http_connections_dropped_total',
    help: 'HTTP connections the server closed before they were served, by reason (evicted, refused, headers_timeout, idle_timeout, response_timeout, pipeline_limit).',
    labelNames: ['reason'],
    registers,
    collect() {
      const s = stats();
      if (!s) return;
      const c = s.connections;
      this.reset();
      this.inc({ reason: 'evicted' }, c.evicted);
      this.inc({ reason: 'refused' }, c.refused);
      this.inc({ reason: 'headers_timeout' }, c.headersTimeouts);
      this.inc({ reason: 'idle_timeout' }, c.idleTimeouts);
      this.inc({ reason: 'response_timeout' }, c.responseTimeouts);
      this.inc({ reason: 'pipeline_limit' }, c.pipelineOverflows);
    },
  });
  new Counter({
    name: PREFIX + 'http_requests_refused_total',
    help: 'HTTP requests and WebSocket upgrades refused for their Host (421) or Origin (403): DNS rebinding and cross-site attempts.',
    labelNames: ['reason'],
    registers,
    collect() {
      const s = stats();
      if (!s) return;
      this.reset();
      this.inc({ reason: 'host' }, s.hostRefused);
      this.inc({ reason: 'origin' }, s.originRefused);
    },
  });
  if (health) {
    new Gauge({
      name: PREFIX + 'health_degraded',
      help: '1 while /healthz reports degraded (a component failing or dropping events), by component; 0 for none.',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        const { reasons } = health.check();
        this.set({ component: 'any' }, reasons.length ? 1 : 0);
        for (const r of reasons) this.set({ component: r.component }, 1);
      },
    });
  }
}
