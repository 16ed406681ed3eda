/**
 * The routes: /metrics, /healthz and the JSON API over the consumers' state.
 * Each reads a snapshot; none changes anything. Query parameters are validated
 * (zod, strict: an unknown parameter is a 400, so a typo is not silently ignored).
 */
import { z } from 'zod';
import { buildReport, renderMarkdown } from '../consumers/alerts/report.js';
import type { Alert, AlertStore } from '../consumers/alerts/types.js';
import type { ObserverMetrics } from '../consumers/metrics/metrics.js';
import type { PeersTable } from '../consumers/peers/table.js';
import type { RecentEvents } from '../consumers/recent/ring.js';
import type { HealthReport } from '../health/registry.js';
import { EVENT_TYPES, SEVERITIES, type EventType } from '../events/types.js';
import { HttpError, Router } from './router.js';

export interface ApiSources {
  metrics: ObserverMetrics;
  peers: PeersTable;
  recent: RecentEvents;
  /** The alert manager's store; resolved at request time (it may start after the server). */
  alerts?: () => AlertStore | undefined;
  /** Extra facts for /healthz (node id, bus state). */
  health?: () => Record<string, unknown>;
  /** Whether anything failed or dropped (health/registry.ts): `degraded` is a 503 naming the reasons. */
  healthCheck?: () => HealthReport;
}

const limit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,7}$/, `expected an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `expected an integer from 1 to ${max}`).max(max, `expected an integer from 1 to ${max}`))
    .default(String(fallback));

const text = (max: number) => z.string().min(1, 'expected a value').max(max, `expected at most ${max} characters`);
const sinceUs = z
  .string()
  .regex(/^[0-9]{1,17}$/, 'expected microseconds since the epoch')
  .transform(Number)
  .optional();
const status = z.enum(['active', 'resolved']).optional();
const severity = z.enum(SEVERITIES as [string, ...string[]]).optional();

const PeersQuery = z
  .object({
    state: z.enum(['open', 'closed', 'all']).default('open'),
    direction: z.enum(['inbound', 'outbound']).optional(),
    node: text(64).optional(),
    limit: limit(10_000, 1_000),
  })
  .strict();

const AlertsQuery = z
  .object({ status, detector: text(64).optional(), severity, node: text(64).optional(), since: sinceUs, limit: limit(10_000, 500) })
  .strict();

const IncidentsQuery = z.object({ status, severity, node: text(64).optional(), since: sinceUs, limit: limit(10_000, 500) }).strict();

const ExportQuery = z.object({ format: z.enum(['md', 'json']).default('md'), redact: z.enum(['0', '1']).default('1') }).strict();

/** The observers' own addresses as alert samples record them (`local`, `receiver`): what a redacted report hides. */
export function ownAddressesFromAlerts(alerts: readonly Alert[]): string[] {
  const own = new Set<string>();
  for (const a of alerts)
    for (const s of a.evidence.samples)
      if (s && typeof s === 'object' && !Array.isArray(s))
        for (const k of ['local', 'receiver']) if (typeof s[k] === 'string' && s[k] !== '') own.add(s[k]);
  return [...own];
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
const EventsQuery = z
  .object({
    type: z
      .string()
      .max(1000)
      .transform((s, ctx) => {
        const types = s
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = types.find((t) => !KNOWN_TYPES.has(t));
        if (bad !== undefined || types.length === 0) {
          ctx.addIssue({ code: 'custom', message: `expected event types from: ${EVENT_TYPES.join(', ')}` });
          return z.NEVER;
        }
        return new Set(types as EventType[]);
      })
      .optional(),
    limit: limit(10_000, 100),
  })
  .strict();

const id = (params: Record<string, string>): string => {
  const value = params.id ?? '';
  if (value.length === 0 || value.length > 128) throw new HttpError(404, 'not found');
  return value;
};

/** The API routes on a router (a new one unless given). */
export function apiRouter(sources: ApiSources, router = new Router()): Router {
  const startedAt = Date.now();
  const store = (): AlertStore | undefined => sources.alerts?.();

  router.get('/healthz', () => {
    const { status, reasons } = sources.healthCheck?.() ?? { status: 'ok', reasons: [] };
    return {
      status: status === 'ok' ? 200 : 503,
      json: {
        status,
        ...(reasons.length ? { reasons } : {}),
        uptimeSec: Math.round((Date.now() - startedAt) / 1000),
        peers: sources.peers.stats(),
        ...sources.health?.(),
      },
    };
  });

  router.get('/metrics', async () => ({ text: await sources.metrics.exposition(), contentType: sources.metrics.contentType }));

  router.get('/api/peers', (ctx) => {
    const q = ctx.query(PeersQuery);
    const peers = sources.peers.peers({
      state: q.state,
      limit: q.limit,
      ...(q.direction ? { direction: q.direction } : {}),
      ...(q.node ? { nodeId: q.node } : {}),
    });
    return { json: { count: peers.length, peers, table: sources.peers.stats() } };
  });

  router.get('/api/alerts', (ctx) => {
    const q = ctx.query(AlertsQuery);
    const s = store();
    const alerts = s
      ? s.alerts({
          limit: q.limit,
          ...(q.status ? { status: q.status } : {}),
          ...(q.detector ? { detector: q.detector } : {}),
          ...(q.severity ? { minSeverity: q.severity as (typeof SEVERITIES)[number] } : {}),
          ...(q.node ? { nodeId: q.node } : {}),
          ...(q.since !== undefined ? { sinceUs: q.since } : {}),
        })
      : [];
    return { json: { enabled: s !== undefined, count: alerts.length, alerts } };
  });

  router.get('/api/alerts/:id', (ctx) => {
    const alert = store()?.alert(id(ctx.params));
    if (!alert) throw new HttpError(404, 'no such alert');
    return { json: alert };
  });

  router.get('/api/incidents', (ctx) => {
    const q = ctx.query(IncidentsQuery);
    const s = store();
    const incidents = s
      ? s.incidents({
          limit: q.limit,
          ...(q.status ? { status: q.status } : {}),
          ...(q.severity ? { minSeverity: q.severity as (typeof SEVERITIES)[number] } : {}),
          ...(q.node ? { nodeId: q.node } : {}),
          ...(q.since !== undefined ? { sinceUs: q.since } : {}),
        })
      : [];
    return { json: { enabled: s !== undefined, count: incidents.length, incidents } };
  });

  router.get('/api/incidents/:id', (ctx) => {
    const incident = store()?.incident(id(ctx.params));
    if (!incident) throw new HttpError(404, 'no such incident');
    const alerts = incident.alertIds.map((a) => store()?.alert(a)).filter((a) => a !== undefined);
    return { json: { ...incident, alerts } };
  });

  // The shareable report (consumers/alerts/report.ts, as `incidents export` writes it); redacted unless ?redact=0.
  router.get('/api/incidents/:id/export', (ctx) => {
    const q = ctx.query(ExportQuery);
    const incident = store()?.incident(id(ctx.params));
    if (!incident) throw new HttpError(404, 'no such incident');
    const alerts = incident.alertIds.map((a) => store()?.alert(a)).filter((a) => a !== undefined);
    const redact = q.redact === '1' ? { ownAddresses: ownAddressesFromAlerts(alerts), nodeIds: false } : undefined;
    const report = buildReport(incident, alerts, redact);
    const name = `incident-${incident.id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}.${q.format}`;
    const headers = { 'content-disposition': `attachment; filename="${name}"` };
    return q.format === 'json'
      ? { json: report, headers }
      : { text: renderMarkdown(report), contentType: 'text/markdown; charset=utf-8', headers };
  });

  router.get('/api/events', (ctx) => {
    const q = ctx.query(EventsQuery);
    const events = sources.recent.latest(q.limit, q.type);
    return { json: { count: events.length, events } };
  });

  return router;
}
