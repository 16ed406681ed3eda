/**
 * `collective list`: what the collective confirmed, from the alerts `run
 * --collective` archived (member.ts): each member's accepted report (detector
 * `collective`) and each collective incident (`collective-incident`, which
 * also names our own reports). Per attacker netgroup or ASN: who reported it
 * and when; kept when at least `minMembers` members did.
 *
 * Formats:
 * - `json`: one object per line;
 * - `csv`: kind,id,members,reporters,first_seen,last_seen (reporters as
 *   `member@first..last;...`);
 * - `bitcoin-cli`: `setban <subnet> add <seconds>` lines, for Core's RPC: only
 *   netgroups that are IP subnets (an ASN, or a Tor/I2P/CJDNS group, cannot be
 *   banned by subnet: counted as skipped);
 * - `detectors`: a --detectors-config object whose spy watch list holds the
 *   subnets (and the built-in LinkingLion ranges), so an observer raises an
 *   alert on every connection from them.
 */
import { z } from 'zod';
import { LINKINGLION_RANGES } from '../net/known-ranges.js';
import type { Alert } from '../events/types.js';
import { keysOf, type CollectiveKey } from './correlator.js';
import { COLLECTIVE_DETECTOR, COLLECTIVE_INCIDENT_DETECTOR } from './member.js';
import { MEMBER_NAME } from './trust.js';

export const LIST_FORMATS = ['json', 'csv', 'bitcoin-cli', 'detectors'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

export interface Reporter {
  member: string;
  firstSeenUs: number;
  lastSeenUs: number;
}

export interface ListEntry extends CollectiveKey {
  reporters: Reporter[];
  firstSeenUs: number;
  lastSeenUs: number;
}

const ReportSample = z.object({
  attackers: z.array(z.object({ kind: z.enum(['address', 'netgroup', 'asn']), id: z.string().max(64) })).max(256),
  netgroups: z.array(z.string().max(64)).max(256),
});
const IncidentSample = z.object({ member: z.string().regex(MEMBER_NAME), atMs: z.number().int().min(0) });

/** Gathers entries from archived alerts (any order; an alert's repeated updates count once per member). */
export class CollectiveList {
  private readonly entries = new Map<string, ListEntry>();
  /** Alerts whose shape was not what member.ts writes (counted, not used). */
  malformed = 0;

  add(alert: Alert): void {
    if (alert.detector === COLLECTIVE_DETECTOR) {
      const member = alert.nodeIds[0];
      const sample = ReportSample.safeParse(alert.evidence.samples[0]);
      if (member === undefined || !MEMBER_NAME.test(member) || !sample.success) {
        this.malformed++;
        return;
      }
      for (const key of keysOf(sample.data)) this.note(key, member, alert.firstSeenUs, alert.lastSeenUs);
    } else if (alert.detector === COLLECTIVE_INCIDENT_DETECTOR) {
      const kind = alert.subject.kind;
      if (kind !== 'netgroup' && kind !== 'asn') {
        this.malformed++;
        return;
      }
      for (const s of alert.evidence.samples) {
        const m = IncidentSample.safeParse(s);
        if (!m.success) {
          this.malformed++;
          continue;
        }
        this.note({ kind, id: alert.subject.id }, m.data.member, m.data.atMs * 1000, m.data.atMs * 1000);
      }
    }
  }

  /** Entries with at least `minMembers` reporters, the most reported first. */
  list(minMembers: number): ListEntry[] {
    return [...this.entries.values()]
      .filter((e) => e.reporters.length >= minMembers)
      .map((e) => ({ ...e, reporters: [...e.reporters].sort((a, b) => a.firstSeenUs - b.firstSeenUs) }))
      .sort((a, b) => b.reporters.length - a.reporters.length || a.firstSeenUs - b.firstSeenUs);
  }

  private note(key: CollectiveKey, member: string, firstUs: number, lastUs: number): void {
    const k = `${key.kind}/${key.id}`;
    let e = this.entries.get(k);
    if (!e) this.entries.set(k, (e = { ...key, reporters: [], firstSeenUs: firstUs, lastSeenUs: lastUs }));
    let r = e.reporters.find((x) => x.member === member);
    if (!r) e.reporters.push((r = { member, firstSeenUs: firstUs, lastSeenUs: lastUs }));
    r.firstSeenUs = Math.min(r.firstSeenUs, firstUs);
    r.lastSeenUs = Math.max(r.lastSeenUs, lastUs);
    e.firstSeenUs = Math.min(e.firstSeenUs, firstUs);
    e.lastSeenUs = Math.max(e.lastSeenUs, lastUs);
  }
}

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

/** An IPv4 or IPv6 subnet as Core's setban takes it (`1.2.0.0/16`, `2001:db8::/32`); undefined otherwise. */
export function banSubnet(id: string): string | undefined {
  const m = /^([0-9a-fA-F:.]+)\/([0-9]{1,3})$/.exec(id);
  if (!m) return undefined;
  const [, ip, bits] = m;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip!);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) && Number(bits) <= 32 ? id : undefined;
  return ip!.includes(':') && Number(bits) <= 128 ? id : undefined;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The list in one format; `skipped`: entries the format cannot express (bitcoin-cli, detectors: not a subnet). */
export function formatList(entries: ListEntry[], format: ListFormat, o: { banSeconds: number }): { text: string; skipped: number } {
  const reporters = (e: ListEntry) =>
    e.reporters.map((r) => ({ member: r.member, firstSeen: iso(r.firstSeenUs), lastSeen: iso(r.lastSeenUs) }));
  switch (format) {
    case 'json':
      return {
        text: entries
          .map(
            (e) =>
              `${JSON.stringify({ kind: e.kind, id: e.id, members: e.reporters.length, reporters: reporters(e), firstSeen: iso(e.firstSeenUs), lastSeen: iso(e.lastSeenUs) })}\n`,
          )
          .join(''),
        skipped: 0,
      };
    case 'csv':
      return {
        text:
          'kind,id,members,reporters,first_seen,last_seen\n' +
          entries
            .map((e) =>
              [
                e.kind,
                csvField(e.id),
                String(e.reporters.length),
                csvField(
                  reporters(e)
                    .map((r) => `${r.member}@${r.firstSeen}..${r.lastSeen}`)
                    .join(';'),
                ),
                iso(e.firstSeenUs),
                iso(e.lastSeenUs),
              ].join(','),
            )
            .map((l) => `${l}\n`)
            .join(''),
        skipped: 0,
      };
    case 'bitcoin-cli': {
      const subnets = entries.map((e) => (e.kind === 'netgroup' ? banSubnet(e.id) : undefined));
      return {
        text: subnets
          .filter((s) => s !== undefined)
          .map((s) => `setban ${s} add ${o.banSeconds}\n`)
          .join(''),
        skipped: subnets.filter((s) => s === undefined).length,
      };
    }
    case 'detectors': {
      const watch = entries.flatMap((e) => {
        const cidr = e.kind === 'netgroup' ? banSubnet(e.id) : undefined;
        return cidr ? [{ cidr, label: `collective:${e.reporters.map((r) => r.member).join('+')}`.slice(0, 64) }] : [];
      });
      const watchlist = [...LINKINGLION_RANGES.map((r) => ({ cidr: r.cidr, label: r.label })), ...watch];
      return { text: `${JSON.stringify({ spy: { watchlist } }, null, 2)}\n`, skipped: entries.length - watch.length };
    }
  }
}
