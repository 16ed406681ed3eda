/**
 * `run --collective`: this observer as a member of a collective.
 *
 * - Sharing: every incident of the local alert manager is turned into a
 *   shared report (report.ts: selected fields, nothing about us), signed
 *   (envelope.ts) and published on the collective's NATS under our own
 *   subject, `collective.in.<member>`; the hub keeps it in its stream (which
 *   refuses a member's reports over its quota) and republishes what it kept
 *   on `collective.reports.<member>` (deploy/collective/); an incident is shared when it
 *   opens and again when it changes, at most once per `shareIntervalMs` (a
 *   change within it is shared, in its latest state, once the interval has passed).
 * - Receiving: the other members' subjects (`collective.reports.*`); each
 *   message is verified (the subject names the member that sent it, which the
 *   hub's permissions guarantee: docs/collective.md); a refusal is counted by
 *   reason. An accepted report becomes an `alert` event on our bus (detector
 *   `collective`, source `collective`, the member in `nodeIds`), so the
 *   archive keeps it and the logger and dashboard show it.
 * - Correlating (correlator.ts): our reports and the accepted ones; a
 *   netgroup or ASN reported by k members within the window becomes an
 *   `alert` event of detector `collective-incident`, each member's evidence
 *   digest among its samples.
 *
 * Who we are is the trust file's member holding our key. Our sequence
 * numbers are milliseconds since the epoch (strictly increasing, also across
 * restarts, without a file); the others' last numbers live in memory, or in
 * `seqFile` when given (`run --data-dir`), so a replay stays refused after a
 * restart.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Bus } from '../bus/bus.js';
import { buildReport } from '../consumers/alerts/report.js';
import type { AlertFeed, Alert, Incident } from '../consumers/alerts/types.js';
import { makeEvent } from '../events/envelope.js';
import type { JsonValue } from '../events/types.js';
import { Correlator, type CollectiveIncident } from './correlator.js';
import { REFUSALS, signReport, Verifier, type Refusal } from './envelope.js';
import { keyIdOf, loadPrivateKey, publicKeyText } from './keys.js';
import { toSharedReport, type SharePolicy, type SharedReport } from './report.js';
import { SeqState } from './seq.js';
import { HUB_WINDOW_MS } from './hub.js';
import { SendQuota } from './quota.js';
import { RecentAlerts } from './store.js';
import { TrustStore, type Trust } from './trust.js';

/** Where the members read the reports the hub accepted (the hub's stream republishes them here). */
export const SUBJECT_PREFIX = 'collective.reports';
/** Where a member publishes its reports: the hub's stream, one subject per member. */
export const IN_PREFIX = 'collective.in';
export const COLLECTIVE_DETECTOR = 'collective';
export const COLLECTIVE_INCIDENT_DETECTOR = 'collective-incident';

export interface CollectiveOptions {
  /** The collective's NATS server URLs (credentials in the URL: nats://user:pass@host:port). */
  servers: string[];
  keyFile: string;
  trustFile: string;
  /** k. */
  minMembers: number;
  windowMs: number;
  /** Our node id (the events' nodeId). */
  nodeId: string;
  policy?: SharePolicy;
  seqFile?: string;
  shareIntervalMs?: number;
  /** How often the window is pruned, deferred changes shared and our reports' echoes counted. Default 5000 ms. */
  tickMs?: number;
  onNotice?: (line: string) => void;
}

export interface CollectiveCounters {
  shared: number;
  /** Incidents with no attacker netgroup, ASN or address: nothing to share. (A change within the share interval is not counted: it is shared when the interval has passed.) */
  notShared: number;
  /** Not shared: over the trust file's maxReportsPerMinute in the last minute (the hub and the members would refuse them). */
  shareRateLimited: number;
  /** Not shared: the report could not be built or signed (never expected; counted, not thrown into the alert manager). */
  shareErrors: number;
  received: number;
  accepted: number;
  refused: Record<Refusal, number>;
  /** Our own reports, echoed by the hub. */
  own: number;
  collectiveIncidents: number;
  correlatorEvicted: number;
  publishErrors: number;
  /** Our reports the hub had not republished to us a tick (5-10 s) after we sent them: not kept (no reports stream, or over its quota). */
  notEchoed: number;
  /** Trust file changes taken without a restart, and changed files refused (the last good one stays). */
  trustReloads: number;
  trustErrors: number;
}

export interface Collective {
  member: string;
  /** The alerts we published, the latest 500 (store.ts: merged into /api/alerts and the dashboard's snapshot). */
  recent: RecentAlerts;
  counters(): CollectiveCounters;
  close(): Promise<void>;
}

const MAX_TRACKED_INCIDENTS = 1000;

/** Why the members would refuse what this key signs, by the trust file `file` (undefined: they would not). */
function notInStanding(t: Trust, keyId: string, file: string): string | undefined {
  const k = t.keys.get(keyId);
  if (!k) return `key ${keyId} is not in ${file}`;
  if (k.revoked !== undefined) return `key ${keyId} of ${k.member} is revoked in ${file}`;
  const standing = t.members.get(k.member)!.standing;
  return standing === true ? undefined : `${k.member} ${standing} in ${file}`;
}

/** The member whose key this is (unrevoked, in standing), or an error saying why not. */
function memberOf(trust: TrustStore, keyId: string): string {
  const why = notInStanding(trust.current(), keyId, trust.path);
  if (why) throw new Error(`--collective-key: ${why}`);
  return trust.current().keys.get(keyId)!.member;
}

/**
 * The NATS client takes the user and password as options, not from the URL:
 * `nats://user:pass@host:port` → servers without them (also what we print)
 * and `user`/`pass` (the first URL's; a cluster's servers share the users).
 */
export function natsCredentials(urls: string[]): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = urls.map((u) => {
    const url = new URL(u);
    if (url.username && user === undefined) {
      user = decodeURIComponent(url.username);
      pass = decodeURIComponent(url.password);
    }
    return `${url.protocol}//${url.host}`;
  });
  return { servers, ...(user !== undefined ? { user, pass: pass ?? '' } : {}) };
}

export async function startCollective(bus: Bus, feed: AlertFeed, o: CollectiveOptions): Promise<Collective> {
  const privateKey = loadPrivateKey(o.keyFile);
  const keyId = keyIdOf(publicKeyText(privateKey));
  const trust = new TrustStore(o.trustFile, {
    onError: (e) => o.onNotice?.(`trust file not reloaded: ${e.message}`),
    // An edit that leaves us out: say so (the members will refuse what we share until it is undone).
    onReload: (t) => {
      const why = notInStanding(t, keyId, o.trustFile);
      if (why) o.onNotice?.(`trust file reloaded: ${why}: the members will refuse what we share`);
    },
  });
  let member: string;
  try {
    member = memberOf(trust, keyId);
  } catch (err) {
    trust.close();
    throw err;
  }
  const seqs = new SeqState(o.seqFile);
  const verifier = new Verifier({ trust: () => trust.current(), seqs });
  const correlator = new Correlator({
    minMembers: o.minMembers,
    windowMs: o.windowMs,
    // The trust file's weights, as it is now: a member removed or out of standing counts nothing.
    weightOf: (m) => {
      const mm = trust.current().members.get(m);
      return mm && mm.standing === true ? mm.weight : 0;
    },
  });
  const policy = o.policy ?? { attackers: 'clear' };
  const origin = { nodeId: o.nodeId, source: 'collective' };
  const recent = new RecentAlerts();
  const c = {
    shared: 0,
    notShared: 0,
    shareRateLimited: 0,
    shareErrors: 0,
    received: 0,
    own: 0,
    collectiveIncidents: 0,
    publishErrors: 0,
    notEchoed: 0,
  };
  // Our own rate, as the hub counts it (quota.ts): what it would refuse is not sent.
  const quota = new SendQuota();
  const takeToken = (now: number): boolean => quota.take(now, trust.current().limits.maxReportsPerMinute, HUB_WINDOW_MS);
  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsCredentials(o.servers), name: `peer-observer collective ${member}`, maxReconnectAttempts: -1 });
  } catch (err) {
    trust.close();
    throw new Error(`cannot connect to ${natsCredentials(o.servers).servers.join(', ')}: ${(err as Error).message}`);
  }
  let lastSeq = 0;
  const nextSeq = () => (lastSeq = Math.max(lastSeq + 1, Date.now()));

  const publishIncident = (ci: CollectiveIncident) => {
    c.collectiveIncidents++;
    const members = ci.members.map((m) => m.member);
    const alert: Alert = {
      id: ci.id,
      detector: COLLECTIVE_INCIDENT_DETECTOR,
      severity: ci.severity,
      subject: { ...ci.key },
      summary: `${members.length} member${members.length === 1 ? '' : 's'} of the collective (weight ${ci.weight}) report${members.length === 1 ? 's' : ''} ${ci.key.kind} ${ci.key.id}: ${members.join(', ')}`,
      firstSeenUs: ci.firstMs * 1000,
      lastSeenUs: ci.lastMs * 1000,
      status: 'active',
      nodeIds: members,
      count: members.length,
      evidence: {
        counts: { members: members.length, weight: ci.weight },
        samples: ci.members.slice(0, 10).map((m) => ({ ...m, detectors: m.detectors }) as unknown as JsonValue),
      },
      ...(ci.key.kind === 'netgroup' ? { netgroup: ci.key.id } : {}),
      incidentId: ci.id,
    };
    recent.add(alert);
    bus.publish(makeEvent(origin, 'alert', alert));
  };
  const correlate = (from: string, report: SharedReport) => {
    for (const ci of correlator.add(from, report, Date.now())) publishIncident(ci);
  };

  // Sharing: incident id → when it was last shared and what it looked like then.
  const sharedIncidents = new Map<string, { atMs: number; shape: string }>();
  // Changes that came within the interval: the latest state of each, shared once the interval has passed (bounded).
  const deferred = new Map<string, Incident>();
  const share = (incident: Incident) => {
    try {
      shareIncident(incident);
    } catch {
      c.shareErrors++;
    }
  };
  const shareIncident = (incident: Incident) => {
    const shape = `${incident.severity}|${incident.alertIds.length}|${incident.subjects.length}|${incident.netgroups.length}`;
    const prev = sharedIncidents.get(incident.id);
    const now = Date.now();
    if (prev && prev.shape === shape) return;
    if (prev && now - prev.atMs < (o.shareIntervalMs ?? 30_000)) {
      deferred.delete(incident.id);
      deferred.set(incident.id, incident);
      if (deferred.size > MAX_TRACKED_INCIDENTS) deferred.delete(deferred.keys().next().value!);
      return;
    }
    deferred.delete(incident.id);
    const alerts = incident.alertIds.map((id) => feed.store.alert(id)).filter((a): a is Alert => a !== undefined);
    const report = toSharedReport(buildReport(incident, alerts), policy);
    if (report.attackers.length === 0 && report.netgroups.length === 0) {
      c.notShared++;
      return;
    }
    if (!takeToken(now)) {
      c.shareRateLimited++;
      return;
    }
    sharedIncidents.delete(incident.id);
    sharedIncidents.set(incident.id, { atMs: now, shape });
    if (sharedIncidents.size > MAX_TRACKED_INCIDENTS) sharedIncidents.delete(sharedIncidents.keys().next().value!);
    const text = signReport(report, { collective: trust.current().collective, member, privateKey, seq: nextSeq(), issuedAt: now });
    try {
      nc.publish(`${IN_PREFIX}.${member}`, text);
      c.shared++;
    } catch {
      c.publishErrors++;
      return;
    }
    correlate(member, report);
  };
  const unsubscribe = feed.onIncident(share);

  const receive = (subject: string, data: Uint8Array) => {
    c.received++;
    const from = subject.slice(SUBJECT_PREFIX.length + 1);
    if (from === member) {
      c.own++;
      return;
    }
    const result = verifier.verify(data, from);
    if (!result.ok) return;
    const e = result.envelope;
    const r = e.report;
    const first = r.attackers[0];
    const alert: Alert = {
      id: `c-${e.member}-${e.seq.toString(36)}`,
      detector: COLLECTIVE_DETECTOR,
      severity: r.severity,
      subject: first ? { kind: first.kind === 'address' ? 'peer' : first.kind, id: first.id } : { kind: 'netgroup', id: r.netgroups[0]! },
      summary: `${e.member} reports ${r.detectors.join(', ')} from ${[...r.attackers.map((a) => a.id), ...r.netgroups].slice(0, 5).join(', ')}`,
      firstSeenUs: r.firstSeenUs,
      lastSeenUs: r.lastSeenUs,
      status: 'active',
      nodeIds: [e.member],
      count: 1,
      evidence: {
        counts: { ...r.counts },
        samples: [
          {
            member: e.member,
            seq: e.seq,
            issuedAt: e.issuedAt,
            detectors: r.detectors,
            attackers: r.attackers,
            netgroups: r.netgroups,
            evidenceDigest: r.evidenceDigest,
          } as unknown as JsonValue,
        ],
      },
      ...(r.netgroups[0] !== undefined ? { netgroup: r.netgroups[0] } : {}),
      incidentId: '',
    };
    recent.add(alert);
    bus.publish(makeEvent(origin, 'alert', alert));
    correlate(e.member, r);
  };
  const sub: Subscription = nc.subscribe(`${SUBJECT_PREFIX}.*`, {
    callback: (err, msg) => {
      if (!err) receive(msg.subject, msg.data);
    },
  });
  // What we had shared at the last tick has had a whole tick to come back from the hub's stream.
  let sharedAtTick = 0;
  const pruneTimer = setInterval(() => {
    correlator.prune(Date.now());
    for (const i of [...deferred.values()]) share(i);
    const missing = sharedAtTick - c.own;
    if (missing > c.notEchoed) {
      if (c.notEchoed === 0)
        o.onNotice?.(
          `the hub did not republish ${missing} of our reports: is its reports stream set up (peer-observer collective hub-setup), with a quota of at least the trust file's maxReportsPerMinute?`,
        );
      c.notEchoed = missing;
    }
    sharedAtTick = c.shared;
  }, o.tickMs ?? 5_000).unref();
  // The subscription is on the server before we say we are up (a report sent right after is not missed).
  await nc.flush();
  o.onNotice?.(`member ${member} (key ${keyId}) of ${trust.current().collective} on ${natsCredentials(o.servers).servers.join(', ')}`);

  let closing: Promise<void> | undefined;
  return {
    member,
    recent,
    counters: () => {
      const v = verifier.counters();
      const refused = Object.fromEntries(REFUSALS.map((r) => [r, v[r]])) as Record<Refusal, number>;
      const t = trust.stats();
      return {
        ...c,
        accepted: v.accepted,
        refused,
        correlatorEvicted: correlator.counters().evicted,
        trustReloads: t.reloads,
        trustErrors: t.errors,
      };
    },
    close: () =>
      (closing ??= (async () => {
        unsubscribe();
        clearInterval(pruneTimer);
        sub.unsubscribe();
        trust.close();
        // What we published goes out first; a hub that is gone does not hold the exit.
        await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
        if (!nc.isClosed()) await nc.close().catch(() => undefined);
      })()),
  };
}
