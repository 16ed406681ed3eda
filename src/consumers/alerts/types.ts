/**
 * Alerts and incidents as the rest of the project sees them: the shapes (which
 * travel over the bus as `alert` and `incident` events, see src/events/types.ts),
 * the read-only store the HTTP API serves, and the counters the metrics read.
 */
import type { Alert, AlertStatus, AlertSubject, Incident, Severity } from '../../events/types.js';

export type { Alert, AlertEvidence, AlertStatus, AlertSubject, AlertSubjectKind, Incident, Severity } from '../../events/types.js';
export { SEVERITIES } from '../../events/types.js';

/** Severity order: info < warning < critical. */
export function severityRank(severity: Severity): number {
  return severity === 'critical' ? 2 : severity === 'warning' ? 1 : 0;
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export interface AlertFilter {
  status?: AlertStatus;
  detector?: string;
  /** At least this severity. */
  minSeverity?: Severity;
  subject?: Partial<AlertSubject>;
  /** Alerts seen by this observer. */
  nodeId?: string;
  /** Last seen at or after (µs). */
  sinceUs?: number;
  incidentId?: string;
  /** Newest first; at most this many. */
  limit?: number;
}

export interface IncidentFilter {
  status?: AlertStatus;
  minSeverity?: Severity;
  nodeId?: string;
  sinceUs?: number;
  limit?: number;
}

/** What /api/alerts and /api/incidents serve. Snapshots: callers may keep them. */
export interface AlertStore {
  /** Newest (last seen) first. */
  alerts(filter?: AlertFilter): Alert[];
  alert(id: string): Alert | undefined;
  /** Newest (last seen) first. */
  incidents(filter?: IncidentFilter): Incident[];
  incident(id: string): Incident | undefined;
}

/** What changed about an alert. */
export type AlertChange = 'raised' | 'updated' | 'resolved';

/** Exact, monotonically increasing counters for the metrics consumer. */
export interface AlertCounters {
  /** Alerts raised, by detector then severity (the severity at raise time). */
  raised: Record<string, Partial<Record<Severity, number>>>;
  /** Alerts resolved, by detector. */
  resolved: Record<string, number>;
  /** Severity escalations of an active alert (e.g. cross-observer correlation), by detector. */
  escalated: Record<string, number>;
  /** Signals the detectors produced (before dedupe), by detector. */
  signals: Record<string, number>;
  incidentsOpened: number;
  /** Alerts and incidents evicted from the bounded in-memory store. */
  storeEvicted: number;
  /** Per-detector state evictions (bounded maps), by detector. */
  stateEvicted: Record<string, number>;
  /** Update events not published because of the per-alert rate limit. */
  updatesSuppressed: number;
}

export type AlertListener = (alert: Alert, change: AlertChange) => void;
export type IncidentListener = (incident: Incident) => void;

/** How other consumers (metrics, webhooks, HTTP) follow the alert manager. */
export interface AlertFeed {
  readonly store: AlertStore;
  counters(): AlertCounters;
  /** Called synchronously on every raise/update/resolve; returns an unsubscribe function. */
  onAlert(listener: AlertListener): () => void;
  onIncident(listener: IncidentListener): () => void;
}
