/**
 * The alerts `run --collective` publishes (members' reports, collective
 * incidents) alongside the alert manager's in what /api/alerts and the
 * dashboard's snapshot read: a page opened later still shows what the
 * collective said. Bounded: the latest `max` alerts by id (an updated one
 * replaces its older state).
 */
import { matchesAlertFilter } from '../consumers/alerts/manager.js';
import type { Alert, AlertFilter, AlertStore } from '../consumers/alerts/types.js';

export class RecentAlerts {
  private readonly byId = new Map<string, Alert>();

  constructor(private readonly max = 500) {}

  add(alert: Alert): void {
    this.byId.delete(alert.id);
    this.byId.set(alert.id, structuredClone(alert));
    if (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The manager's filter semantics (consumers/alerts/manager.ts). */
  list(f: AlertFilter = {}): Alert[] {
    const out: Alert[] = [];
    for (const a of this.byId.values()) if (matchesAlertFilter(a, f)) out.push(structuredClone(a));
    return out;
  }

  get(id: string): Alert | undefined {
    const a = this.byId.get(id);
    return a ? structuredClone(a) : undefined;
  }
}

/** The manager's store with the collective's alerts merged in (newest first, the filter's limit over both). */
export function withCollectiveAlerts(base: AlertStore, recent: RecentAlerts): AlertStore {
  return {
    alerts: (f?: AlertFilter) => {
      const all = [...base.alerts(f ? { ...f, limit: undefined } : f), ...recent.list(f)].sort((x, y) => y.lastSeenUs - x.lastSeenUs);
      return f?.limit !== undefined ? all.slice(0, f.limit) : all;
    },
    alert: (id: string) => base.alert(id) ?? recent.get(id),
    incidents: (f) => base.incidents(f),
    incident: (id) => base.incident(id),
  };
}
