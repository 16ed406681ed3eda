/**
 * The collective's correlation: the same attacker netgroup or ASN reported by
 * distinct members whose weights add up to at least `minMembers` (k) within
 * `windowMs` is one collective incident. A member's weight is the trust
 * file's (`weightOf`, asked at each check, so an edited file counts at once;
 * default 1 each: then k is a number of members; 0 for a member no longer in
 * the file or in standing). A pure class (no clock, no I/O): the caller passes each accepted
 * report (ours included) with the time it arrived.
 *
 * - Keys: every `netgroup` and `asn` attacker of a report, its `netgroups`, and
 *   the group of each attacker address (its netgroup; loopback and private
 *   IPv4 by /16, as the detectors group them: net/remote.ts). A report names at most a few
 *   hundred (the schema's bounds).
 * - Per key, each member's latest report in the window (so one member
 *   repeating itself never counts twice, and never makes k alone).
 * - An incident is returned when a key first reaches k members, and again
 *   each time another member joins it; its id stays the same while the key
 *   stays at or above k (a key that falls below k and comes back is a new one).
 * - Bounded: at most `maxKeys` keys; past it the least recently reported key is
 *   dropped (counted in `evicted`).
 */
import { groupOfRemote } from '../net/remote.js';
import type { SharedReport } from './report.js';
import type { Severity } from '../events/types.js';

export interface CorrelatorOptions {
  /** k: the weight of distinct members that makes an incident (at least 1; each member weighs 1 unless `weightOf` says otherwise). */
  minMembers: number;
  /** A member's weight now (trust.ts); default 1. */
  weightOf?: (member: string) => number;
  windowMs: number;
  /** Keys held at once. Default 10,000. */
  maxKeys?: number;
}

export interface CollectiveKey {
  kind: 'netgroup' | 'asn';
  id: string;
}

export interface MemberEvidence {
  member: string;
  /** When the report arrived (ms since the epoch). */
  atMs: number;
  detectors: string[];
  severity: Severity;
  evidenceDigest: string;
}

export interface CollectiveIncident {
  id: string;
  key: CollectiveKey;
  severity: Severity;
  firstMs: number;
  lastMs: number;
  /** Each member's latest report on the key, oldest first. */
  members: MemberEvidence[];
  /** Their weights' sum (at least k). */
  weight: number;
}

interface KeyState {
  key: CollectiveKey;
  byMember: Map<string, MemberEvidence>;
  /** The open incident's id and how many members it had when last returned. */
  open?: { id: string; firstMs: number; members: number };
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** The keys a report is about: netgroups and ASNs, each once. */
export function keysOf(report: Pick<SharedReport, 'attackers' | 'netgroups'>): CollectiveKey[] {
  const out = new Map<string, CollectiveKey>();
  const add = (kind: CollectiveKey['kind'], id: string) => {
    // Not a place: Core's catch-all groups would join unrelated attackers.
    if (id === '' || id === 'unknown' || id === 'local' || id === 'unroutable') return;
    out.set(`${kind}/${id}`, { kind, id });
  };
  for (const a of report.attackers) {
    if (a.kind === 'netgroup') add('netgroup', a.id);
    else if (a.kind === 'asn') add('asn', a.id);
    else add('netgroup', groupOfRemote(a.id));
  }
  for (const n of report.netgroups) add('netgroup', n);
  return [...out.values()];
}

export class Correlator {
  private readonly keys = new Map<string, KeyState>();
  private readonly maxKeys: number;
  private seq = 0;
  private evictedCount = 0;
  private incidentsCount = 0;

  constructor(private readonly o: CorrelatorOptions) {
    if (!Number.isInteger(o.minMembers) || o.minMembers < 1) throw new Error('minMembers: expected an integer of at least 1');
    if (!(o.windowMs > 0)) throw new Error('windowMs: expected more than 0');
    this.maxKeys = o.maxKeys ?? 10_000;
  }

  /** One accepted report from `member`, arrived at `atMs`: the collective incidents it opens or grows. */
  add(member: string, report: SharedReport, atMs: number): CollectiveIncident[] {
    const out: CollectiveIncident[] = [];
    const evidence: MemberEvidence = {
      member,
      atMs,
      detectors: [...report.detectors],
      severity: report.severity,
      evidenceDigest: report.evidenceDigest,
    };
    for (const key of keysOf(report)) {
      const k = `${key.kind}/${key.id}`;
      let s = this.keys.get(k);
      if (s)
        this.keys.delete(k); // re-inserted below: Map order is least recently reported first
      else s = { key, byMember: new Map() };
      this.keys.set(k, s);
      this.pruneKey(s, atMs);
      s.byMember.delete(member);
      s.byMember.set(member, evidence);
      const n = s.byMember.size;
      if (this.weight(s) >= this.o.minMembers && (!s.open || n > s.open.members)) {
        if (!s.open) {
          this.incidentsCount++;
          s.open = { id: `ci-${key.kind}-${key.id}-${atMs.toString(36)}-${(++this.seq).toString(36)}`, firstMs: atMs, members: n };
        }
        s.open.members = n;
        out.push(this.incident(s, atMs));
      }
    }
    while (this.keys.size > this.maxKeys) {
      this.keys.delete(this.keys.keys().next().value!);
      this.evictedCount++;
    }
    return out;
  }

  /** Forget what fell out of the window (call now and then: add() prunes only the keys it touches). */
  prune(nowMs: number): void {
    for (const [k, s] of this.keys) {
      this.pruneKey(s, nowMs);
      if (s.byMember.size === 0) this.keys.delete(k);
    }
  }

  private pruneKey(s: KeyState, nowMs: number): void {
    for (const [m, e] of s.byMember) if (nowMs - e.atMs > this.o.windowMs) s.byMember.delete(m);
    if (s.open && this.weight(s) < this.o.minMembers) delete s.open;
  }

  /** The members' weights added, to a millionth (ten members of weight 0.1 make 1, not 0.9999999999999999). */
  private weight(s: KeyState): number {
    let sum = 0;
    for (const m of s.byMember.keys()) sum += this.o.weightOf ? this.o.weightOf(m) : 1;
    return Math.round(sum * 1e6) / 1e6;
  }

  counters(): { keys: number; incidents: number; evicted: number } {
    return { keys: this.keys.size, incidents: this.incidentsCount, evicted: this.evictedCount };
  }

  private incident(s: KeyState, atMs: number): CollectiveIncident {
    const members = [...s.byMember.values()].sort((a, b) => a.atMs - b.atMs);
    let severity: Severity = 'info';
    for (const m of members) if (RANK[m.severity] > RANK[severity]) severity = m.severity;
    return {
      id: s.open!.id,
      key: { ...s.key },
      severity,
      firstMs: s.open!.firstMs,
      lastMs: atMs,
      members: members.map((m) => ({ ...m, detectors: [...m.detectors] })),
      weight: this.weight(s),
    };
  }
}
