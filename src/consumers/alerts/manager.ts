/**
 * The alert manager: signals in, alerts and incidents out.
 *
 * - Dedupe: one active alert per (detector, subject); a new signal updates its
 *   last seen, count, severity (never down), node ids and evidence (counts keep
 *   the largest value seen per name; at most 10 samples, the first ones).
 * - Resolve: an alert with no signal for `quietMs` is resolved; a later signal
 *   opens a new alert.
 * - Incidents: a new alert joins an active incident that saw the same subject,
 *   netgroup or source IP within `groupWindowMs`; otherwise it opens one. An
 *   incident's severity is the highest of its alerts; it resolves with its last
 *   alert.
 * - Cross-observer correlation: when one source (IP or netgroup) is alerted by
 *   `correlationObservers` or more observers within `groupWindowMs`, a
 *   `correlation` alert is raised one severity above the highest involved.
 * - Publishing: `alert` events on raise and resolve, and for updates at most
 *   once per `updateIntervalMs` per alert; `incident` events on open, change and
 *   resolve. Listeners (metrics, webhooks) see every change synchronously.
 * - Bounded: at most `maxAlerts` alerts and `maxIncidents` incidents kept
 *   (resolved ones evicted first, counted), of which at most
 *   `maxResolvedAlerts` / `maxResolvedIncidents` resolved ones: history lives in
 *   the archive (alert and incident events), memory holds what is current.
 *
 * Time is the signals' time (event time), so replaying an archive gives the
 * same alerts as the live run did.
 */
import type { ObserverEvent } from '../../events/types.js';
import type { Signal } from './signal.js';
import {
  maxSeverity,
  severityRank,
  type Alert,
  type AlertChange,
  type AlertCounters,
  type AlertFeed,
  type AlertFilter,
  type AlertListener,
  type AlertStore,
  type AlertSubject,
  type Incident,
  type IncidentFilter,
  type IncidentListener,
  type Severity,
} from './types.js';
import { makeEvent, type EventOrigin } from '../../events/envelope.js';

export interface AlertManagerOptions {
  /** No signal for this long resolves an alert. */
  quietMs: number;
  /** Alerts within this window with a shared subject, netgroup or source join one incident. */
  groupWindowMs: number;
  /** At most one published update per alert per this interval. */
  updateIntervalMs: number;
  maxAlerts: number;
  maxIncidents: number;
  /** Resolved alerts / incidents kept in memory for the API (the archive keeps them all). */
  maxResolvedAlerts: number;
  maxResolvedIncidents: number;
  maxSamples: number;
  maxNodeIds: number;
  /** Observers alerting on one source before a correlation alert. */
  correlationObservers: number;
}

export const DEFAULT_ALERT_OPTIONS: AlertManagerOptions = Object.freeze({
  quietMs: 5 * 60_000,
  groupWindowMs: 30 * 60_000,
  updateIntervalMs: 5_000,
  maxAlerts: 10_000,
  maxIncidents: 2_000,
  maxResolvedAlerts: 1_000,
  maxResolvedIncidents: 200,
  maxSamples: 10,
  maxNodeIds: 64,
  correlationObservers: 2,
});

export const CORRELATION = 'correlation';

interface AlertState {
  alert: Alert;
  lastPublishedUs: number;
  dirty: boolean;
}

interface IncidentState {
  incident: Incident;
  /** Source keys for joining: released (null) once the incident is resolved and past the group window, where no alert can join it. */
  keys: Set<string> | null;
  /** Creation order: a new alert joins the most recent matching incident. */
  order: number;
  /** Ids of its active alerts (null when none: most incidents are resolved, an empty Set each adds up). */
  active: Set<string> | null;
}

interface SourceSeen {
  nodes: Map<string, number>;
  alertIds: Set<string>;
  subject: AlertSubject;
  netgroup?: string;
}

const subjectKey = (s: AlertSubject) => `${s.kind}:${s.id}`;

/**
 * A deep copy of plain JSON-like data (alerts, incidents, samples, counters):
 * what structuredClone gives for these, at a fraction of its cost (no
 * serialisation round trip). Only objects, arrays and primitives occur here.
 */
function clone<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i] as unknown);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out[k] = clone((v as Record<string, unknown>)[k]);
  return out as T;
}

/**
 * A string in one flat piece. Summaries are built by template literals: V8
 * keeps those as trees of their parts (cons strings), several objects each,
 * which a stored alert would hold for as long as it is kept.
 */
function flat(text: string): string {
  return text.length > 0 ? JSON.parse(JSON.stringify(text)) : text;
}

/**
 * Arrays grown by push keep spare capacity (17 slots for one element); a
 * resolved alert never grows again, so it is kept with exact-size copies and
 * flat strings: about half the memory of the store's many resolved alerts.
 */
function compactAlert(a: Alert): void {
  a.summary = flat(a.summary);
  a.nodeIds = a.nodeIds.slice();
  a.evidence.samples = a.evidence.samples.slice();
}

/** The same for a resolved incident (should it reopen, its arrays grow again). */
function compactIncident(i: Incident): void {
  i.title = flat(i.title);
  i.alertIds = i.alertIds.slice();
  i.subjects = i.subjects.slice();
  i.netgroups = i.netgroups.slice();
  i.detectors = i.detectors.slice();
  i.nodeIds = i.nodeIds.slice();
}

export class AlertManager implements AlertFeed {
  readonly options: AlertManagerOptions;
  private readonly alertsById = new Map<string, AlertState>();
  private readonly active = new Map<string, AlertState>();
  private readonly incidentsById = new Map<string, IncidentState>();
  private readonly sources = new Map<string, SourceSeen>();
  /** Source key → the incidents holding it (their `keys`): joining looks up the alert's keys, not every incident. */
  private readonly incidentsByKey = new Map<string, Set<IncidentState>>();
  private incidentOrder = 0;
  private readonly alertListeners = new Set<AlertListener>();
  private readonly incidentListeners = new Set<IncidentListener>();
  private readonly c: AlertCounters = {
    raised: {},
    resolved: {},
    escalated: {},
    signals: {},
    incidentsOpened: 0,
    storeEvicted: 0,
    stateEvicted: {},
    updatesSuppressed: 0,
  };
  private seq = 0;
  private clockUs = 0;
  /** Resolved alerts and incidents in the store: eviction looks for the first resolved one only when there is one. */
  private resolvedAlerts = 0;
  private resolvedIncidents = 0;

  constructor(
    private readonly origin: EventOrigin,
    private readonly publish: (event: ObserverEvent) => void,
    options: Partial<AlertManagerOptions> = {},
  ) {
    this.options = { ...DEFAULT_ALERT_OPTIONS, ...options };
  }

  readonly store: AlertStore = {
    alerts: (filter?: AlertFilter) => this.listAlerts(filter),
    alert: (id: string) => {
      const s = this.alertsById.get(id);
      return s ? clone(s.alert) : undefined;
    },
    incidents: (filter?: IncidentFilter) => this.listIncidents(filter),
    incident: (id: string) => {
      const s = this.incidentsById.get(id);
      return s ? clone(s.incident) : undefined;
    },
  };

  counters(): AlertCounters {
    return clone(this.c);
  }

  /** Entries in each bounded structure (tests and diagnostics: each stays within its option's bound). */
  sizes(): { alerts: number; active: number; incidents: number; sources: number } {
    return { alerts: this.alertsById.size, active: this.active.size, incidents: this.incidentsById.size, sources: this.sources.size };
  }

  /** Detector state evictions, reported by the engine. */
  setStateEvicted(detector: string, evicted: number): void {
    this.c.stateEvicted[detector] = evicted;
  }

  onAlert(listener: AlertListener): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  onIncident(listener: IncidentListener): () => void {
    this.incidentListeners.add(listener);
    return () => this.incidentListeners.delete(listener);
  }

  get now(): number {
    return this.clockUs;
  }

  ingest(signal: Signal): void {
    this.c.signals[signal.detector] = (this.c.signals[signal.detector] ?? 0) + 1;
    if (signal.timeUs > this.clockUs) this.clockUs = signal.timeUs;
    const key = `${signal.detector}|${subjectKey(signal.subject)}`;
    const existing = this.active.get(key);
    const state = existing ?? this.raise(key, signal);
    if (existing) this.update(existing, signal);
    this.correlate(state, signal);
  }

  /** Resolve quiet alerts and publish pending updates. */
  tick(nowUs: number): void {
    if (nowUs > this.clockUs) this.clockUs = nowUs;
    const quietUs = this.options.quietMs * 1000;
    for (const [key, s] of this.active) {
      if (nowUs - s.alert.lastSeenUs >= quietUs) {
        this.active.delete(key);
        s.alert.status = 'resolved';
        this.resolvedAlerts++;
        s.alert.resolvedUs = nowUs;
        compactAlert(s.alert);
        this.c.resolved[s.alert.detector] = (this.c.resolved[s.alert.detector] ?? 0) + 1;
        this.emitAlert(s, 'resolved', nowUs);
        this.incidentAlertResolved(s.alert, nowUs);
        this.evictAlerts();
      } else if (s.dirty && nowUs - s.lastPublishedUs >= this.options.updateIntervalMs * 1000) {
        this.emitAlert(s, 'updated', nowUs);
      }
    }
    const windowUs = this.options.groupWindowMs * 1000;
    // Resolved and out of the window even for signals an hour late: no alert can join them again.
    for (const inc of this.incidentsById.values())
      if (inc.keys && inc.incident.status !== 'active' && this.clockUs - inc.incident.lastSeenUs > 2 * windowUs) this.releaseKeys(inc);
    for (const [k, src] of this.sources) {
      for (const [node, t] of src.nodes) if (nowUs - t > windowUs) src.nodes.delete(node);
      if (src.nodes.size === 0) this.sources.delete(k);
    }
  }

  /** Publish every pending (rate-limited) update now: before shutdown, so the last state is on the bus. */
  flush(): void {
    for (const s of this.active.values()) if (s.dirty) this.emitAlert(s, 'updated', Math.max(this.clockUs, s.alert.lastSeenUs));
  }

  private nextId(prefix: string, timeUs: number): string {
    // Flat: an id is kept (store keys, incident lists) as long as its alert.
    return flat(`${prefix}-${Math.floor(timeUs / 1000).toString(36)}-${(++this.seq).toString(36)}`);
  }

  private raise(key: string, signal: Signal): AlertState {
    const alert: Alert = {
      id: this.nextId('a', signal.timeUs),
      detector: signal.detector,
      severity: signal.severity,
      subject: { ...signal.subject },
      summary: signal.summary,
      firstSeenUs: signal.timeUs,
      lastSeenUs: signal.timeUs,
      status: 'active',
      nodeIds: [signal.nodeId],
      count: 1,
      evidence: { counts: { ...signal.counts }, samples: signal.sample !== undefined ? [clone(signal.sample)] : [] },
      ...(signal.netgroup !== undefined ? { netgroup: signal.netgroup } : {}),
      incidentId: '',
    };
    const sourceKeys = [`subject:${subjectKey(signal.subject)}`];
    if (signal.netgroup) sourceKeys.push(`netgroup:${signal.netgroup}`);
    if (signal.sourceIp) sourceKeys.push(`ip:${signal.sourceIp}`);
    const state: AlertState = { alert, lastPublishedUs: signal.timeUs, dirty: false };
    this.active.set(key, state);
    this.alertsById.set(alert.id, state);
    const bySev = (this.c.raised[alert.detector] ??= {});
    bySev[alert.severity] = (bySev[alert.severity] ?? 0) + 1;
    this.joinIncident(state, sourceKeys, signal.timeUs);
    this.evictAlerts();
    this.emitAlert(state, 'raised', signal.timeUs);
    return state;
  }

  private update(s: AlertState, signal: Signal): void {
    const a = s.alert;
    a.lastSeenUs = Math.max(a.lastSeenUs, signal.timeUs);
    a.count++;
    a.summary = signal.summary;
    if (!a.nodeIds.includes(signal.nodeId) && a.nodeIds.length < this.options.maxNodeIds) a.nodeIds.push(signal.nodeId);
    for (const [k, v] of Object.entries(signal.counts)) {
      const old = a.evidence.counts[k];
      if (old === undefined) {
        if (Object.keys(a.evidence.counts).length < 64) a.evidence.counts[k] = v;
      } else if (v > old) a.evidence.counts[k] = v;
    }
    if (signal.sample !== undefined && a.evidence.samples.length < this.options.maxSamples) a.evidence.samples.push(clone(signal.sample));
    const escalated = severityRank(signal.severity) > severityRank(a.severity);
    if (escalated) {
      a.severity = signal.severity;
      this.c.escalated[a.detector] = (this.c.escalated[a.detector] ?? 0) + 1;
    }
    s.dirty = true;
    if (escalated || signal.timeUs - s.lastPublishedUs >= this.options.updateIntervalMs * 1000) this.emitAlert(s, 'updated', signal.timeUs);
    else this.c.updatesSuppressed++;
    if (escalated) this.incidentChanged(a.incidentId, signal.timeUs);
    else this.touchIncident(a.incidentId, signal.timeUs);
  }

  private emitAlert(s: AlertState, change: AlertChange, timeUs: number): void {
    s.dirty = false;
    s.lastPublishedUs = timeUs;
    const snapshot = clone(s.alert);
    this.publish(makeEvent(this.origin, 'alert', snapshot, timeUs));
    for (const l of this.alertListeners) {
      try {
        l(clone(snapshot), change);
      } catch {
        // a listener's failure must not stop alerting
      }
    }
  }

  private emitIncident(s: IncidentState, timeUs: number): void {
    const snapshot = clone(s.incident);
    this.publish(makeEvent(this.origin, 'incident', snapshot, timeUs));
    for (const l of this.incidentListeners) {
      try {
        l(clone(snapshot));
      } catch {
        // as above
      }
    }
  }

  private joinIncident(s: AlertState, sourceKeys: readonly string[], timeUs: number): void {
    const windowUs = this.options.groupWindowMs * 1000;
    let target: IncidentState | undefined;
    // The most recent incident within the window that holds one of the alert's keys.
    for (const k of sourceKeys) {
      const holders = this.incidentsByKey.get(k);
      if (holders)
        for (const inc of holders) if (timeUs - inc.incident.lastSeenUs <= windowUs && (!target || inc.order > target.order)) target = inc;
    }
    const a = s.alert;
    if (!target) {
      const incident: Incident = {
        id: this.nextId('i', timeUs),
        title: '', // set from its detectors and subjects below, kept current as alerts join
        severity: a.severity,
        status: 'active',
        firstSeenUs: a.firstSeenUs,
        lastSeenUs: a.lastSeenUs,
        alertIds: [],
        subjects: [],
        netgroups: [],
        detectors: [],
        nodeIds: [],
      };
      target = { incident, keys: new Set(), order: this.incidentOrder++, active: null };
      this.incidentsById.set(incident.id, target);
      this.c.incidentsOpened++;
      this.evictIncidents();
    }
    const inc = target.incident;
    a.incidentId = inc.id;
    const keys = (target.keys ??= new Set());
    for (const k of sourceKeys) {
      if (keys.size >= 1000 || keys.has(k)) continue;
      keys.add(k);
      let holders = this.incidentsByKey.get(k);
      if (!holders) {
        holders = new Set();
        this.incidentsByKey.set(k, holders);
      }
      holders.add(target);
    }
    (target.active ??= new Set()).add(a.id);
    if (inc.alertIds.length < 1000) inc.alertIds.push(a.id);
    if (!inc.subjects.some((x) => x.kind === a.subject.kind && x.id === a.subject.id) && inc.subjects.length < 100)
      inc.subjects.push({ ...a.subject });
    if (a.netgroup && !inc.netgroups.includes(a.netgroup) && inc.netgroups.length < 100) inc.netgroups.push(a.netgroup);
    if (!inc.detectors.includes(a.detector)) inc.detectors.push(a.detector);
    for (const n of a.nodeIds) if (!inc.nodeIds.includes(n) && inc.nodeIds.length < this.options.maxNodeIds) inc.nodeIds.push(n);
    inc.severity = maxSeverity(inc.severity, a.severity);
    if (inc.status === 'resolved') this.resolvedIncidents--;
    inc.status = 'active';
    if (inc.resolvedUs !== undefined) delete inc.resolvedUs; // only a reopened incident: `delete` turns an object into a slow, larger dictionary
    inc.lastSeenUs = Math.max(inc.lastSeenUs, a.lastSeenUs);
    inc.title = incidentTitle(inc);
    this.emitIncident(target, timeUs);
  }

  private touchIncident(id: string, timeUs: number): void {
    const s = this.incidentsById.get(id);
    if (!s) return;
    s.incident.lastSeenUs = Math.max(s.incident.lastSeenUs, timeUs);
    const nodeIds = s.incident.nodeIds;
    for (const id of s.active ?? []) {
      const a = this.alertsById.get(id)?.alert;
      if (a) for (const n of a.nodeIds) if (nodeIds.length < this.options.maxNodeIds && !nodeIds.includes(n)) nodeIds.push(n);
    }
  }

  private incidentChanged(id: string, timeUs: number): void {
    const s = this.incidentsById.get(id);
    if (!s) return;
    this.touchIncident(id, timeUs);
    let sev: Severity = 'info';
    for (const aid of s.incident.alertIds) {
      const a = this.alertsById.get(aid)?.alert;
      if (a) sev = maxSeverity(sev, a.severity);
    }
    s.incident.severity = maxSeverity(s.incident.severity, sev);
    this.emitIncident(s, timeUs);
  }

  private incidentAlertResolved(a: Alert, timeUs: number): void {
    const s = this.incidentsById.get(a.incidentId);
    if (!s) return;
    s.active?.delete(a.id);
    if (!s.active || s.active.size === 0) {
      s.active = null;
      if (s.incident.status !== 'resolved') this.resolvedIncidents++;
      s.incident.status = 'resolved';
      s.incident.resolvedUs = timeUs;
      compactIncident(s.incident);
      this.emitIncident(s, timeUs);
      this.evictIncidents();
    }
  }

  /** Cross-observer correlation: one source alerted by several observers. */
  private correlate(s: AlertState, signal: Signal): void {
    if (signal.detector === CORRELATION) return;
    const keys: { key: string; subject: AlertSubject }[] = [];
    if (signal.sourceIp) keys.push({ key: `ip:${signal.sourceIp}`, subject: { kind: 'peer', id: signal.sourceIp } });
    if (signal.subject.kind === 'netgroup' || signal.subject.kind === 'asn')
      keys.push({ key: subjectKey(signal.subject), subject: signal.subject });
    else if (signal.netgroup && !signal.sourceIp)
      keys.push({ key: `netgroup:${signal.netgroup}`, subject: { kind: 'netgroup', id: signal.netgroup } });
    for (const { key, subject } of keys) {
      let src = this.sources.get(key);
      if (!src) {
        if (this.sources.size >= this.options.maxAlerts) {
          this.sources.delete(this.sources.keys().next().value!);
        }
        src = { nodes: new Map(), alertIds: new Set(), subject, ...(signal.netgroup !== undefined ? { netgroup: signal.netgroup } : {}) };
        this.sources.set(key, src);
      }
      if (src.nodes.size < this.options.maxNodeIds || src.nodes.has(signal.nodeId)) src.nodes.set(signal.nodeId, signal.timeUs);
      if (src.alertIds.size < 100) src.alertIds.add(s.alert.id);
      if (src.nodes.size < this.options.correlationObservers) continue;
      let top: Severity = 'info';
      const detectors = new Set<string>();
      for (const id of src.alertIds) {
        const a = this.alertsById.get(id)?.alert;
        if (a) {
          top = maxSeverity(top, a.severity);
          detectors.add(a.detector);
        }
      }
      const severity: Severity = top === 'info' ? 'warning' : 'critical';
      const nodes = [...src.nodes.keys()];
      this.ingest({
        detector: CORRELATION,
        subject,
        severity,
        summary: `${subject.kind} ${subject.id} alerted by ${nodes.length} observers (${nodes.slice(0, 5).join(', ')}): ${[...detectors].join(', ')}`,
        counts: { observers: nodes.length, alerts: src.alertIds.size },
        sample: { observers: nodes.slice(0, 10), detectors: [...detectors] },
        nodeId: signal.nodeId,
        timeUs: signal.timeUs,
        ...(src.netgroup !== undefined ? { netgroup: src.netgroup } : {}),
        ...(signal.sourceIp !== undefined && subject.kind === 'peer' ? { sourceIp: signal.sourceIp } : {}),
      });
      const corr = this.active.get(`${CORRELATION}|${subjectKey(subject)}`);
      if (corr)
        for (const n of nodes)
          if (!corr.alert.nodeIds.includes(n) && corr.alert.nodeIds.length < this.options.maxNodeIds) corr.alert.nodeIds.push(n);
    }
  }

  private evictAlerts(): void {
    while (this.alertsById.size > this.options.maxAlerts || this.resolvedAlerts > this.options.maxResolvedAlerts) {
      let victim: string | undefined;
      if (this.resolvedAlerts > 0)
        for (const [id, s] of this.alertsById) {
          if (s.alert.status === 'resolved') {
            victim = id;
            break;
          }
        }
      victim ??= this.alertsById.keys().next().value!;
      const s = this.alertsById.get(victim)!;
      this.alertsById.delete(victim);
      if (s.alert.status === 'resolved') this.resolvedAlerts--;
      else {
        this.active.delete(`${s.alert.detector}|${subjectKey(s.alert.subject)}`);
        this.incidentsById.get(s.alert.incidentId)?.active?.delete(victim);
      }
      this.c.storeEvicted++;
    }
  }

  /** Forget an incident's keys: no alert joins it any more. */
  private releaseKeys(inc: IncidentState): void {
    for (const k of inc.keys ?? []) {
      const holders = this.incidentsByKey.get(k);
      holders?.delete(inc);
      if (holders?.size === 0) this.incidentsByKey.delete(k);
    }
    inc.keys = null;
  }

  private evictIncidents(): void {
    while (this.incidentsById.size > this.options.maxIncidents || this.resolvedIncidents > this.options.maxResolvedIncidents) {
      let victim: string | undefined;
      if (this.resolvedIncidents > 0)
        for (const [id, s] of this.incidentsById) {
          if (s.incident.status === 'resolved') {
            victim = id;
            break;
          }
        }
      victim ??= this.incidentsById.keys().next().value!;
      const gone = this.incidentsById.get(victim)!;
      if (gone.incident.status === 'resolved') this.resolvedIncidents--;
      this.releaseKeys(gone);
      this.incidentsById.delete(victim);
      this.c.storeEvicted++;
    }
  }

  private listAlerts(f: AlertFilter = {}): Alert[] {
    const out: Alert[] = [];
    for (const { alert: a } of this.alertsById.values()) if (matchesAlertFilter(a, f)) out.push(a);
    out.sort((x, y) => y.lastSeenUs - x.lastSeenUs);
    return clone(f.limit !== undefined ? out.slice(0, f.limit) : out);
  }

  private listIncidents(f: IncidentFilter = {}): Incident[] {
    const out: Incident[] = [];
    for (const { incident: i } of this.incidentsById.values()) {
      if (f.status && i.status !== f.status) continue;
      if (f.minSeverity && severityRank(i.severity) < severityRank(f.minSeverity)) continue;
      if (f.nodeId && !i.nodeIds.includes(f.nodeId)) continue;
      if (f.sinceUs !== undefined && i.lastSeenUs < f.sinceUs) continue;
      out.push(i);
    }
    out.sort((x, y) => y.lastSeenUs - x.lastSeenUs);
    return clone(f.limit !== undefined ? out.slice(0, f.limit) : out);
  }
}

/**
 * What an incident is about, without counts (they change while it lasts and live
 * in its alerts): `addr-flood: peer 127.21.0.1:35871, 127.21.0.2:41557 (+3 more)`.
 */
function incidentTitle(inc: Incident): string {
  const shown = inc.subjects.slice(0, 3).map((x) => `${x.kind} ${x.id}`);
  const more = inc.subjects.length > 3 ? ` (+${inc.subjects.length - 3} more)` : '';
  return `${inc.detectors.join(' + ')}: ${shown.join(', ')}${more}`.slice(0, 200);
}

/** Whether an alert passes the API's filter (the manager's list and the collective's store). */
export function matchesAlertFilter(a: Alert, f: AlertFilter): boolean {
  if (f.status && a.status !== f.status) return false;
  if (f.detector && a.detector !== f.detector) return false;
  if (f.minSeverity && severityRank(a.severity) < severityRank(f.minSeverity)) return false;
  if (f.subject?.kind && a.subject.kind !== f.subject.kind) return false;
  if (f.subject?.id && a.subject.id !== f.subject.id) return false;
  if (f.nodeId && !a.nodeIds.includes(f.nodeId)) return false;
  if (f.sinceUs !== undefined && a.lastSeenUs < f.sinceUs) return false;
  if (f.incidentId && a.incidentId !== f.incidentId) return false;
  return true;
}
