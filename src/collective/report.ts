/**
 * What a member shares: the redacted core of an incident, and nothing about
 * the observer that saw it. `toSharedReport` builds it from an incident report
 * (consumers/alerts/report.ts) by *selecting* fields, never by copying the
 * report and scrubbing it: our observers' node ids, addresses, ports, host
 * names, alert samples and free-text summaries are simply not among them. The
 * attacker side goes in the clear (an IP, no port) or truncated to its
 * netgroup, per policy; the full evidence is represented by its SHA-256 (a
 * member can later prove what it saw without having shared it).
 *
 * The schema is strict and bounded (what a verifier accepts), with no
 * defaults or transforms: a parsed report re-encodes to the bytes that were
 * signed.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { IncidentReport } from '../consumers/alerts/report.js';
import { ipOfRemote, netgroupOfRemote } from '../net/remote.js';
import { canonicalBytes } from './canonical.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SUBJECT_ID = /^[A-Za-z0-9:.[\]/_-]{1,64}$/;
/**
 * A count's name: `detector.name`, letters only after the dot. Our detectors
 * name their counts in code (`addr-flood.addrEntries`); anything else (a name
 * built from data, which could hold an address or a port) is not shared.
 */
const COUNT_NAME = /^[a-z][a-z0-9-]{0,47}\.[A-Za-z]{1,48}$/;

export const SharedReportSchema = z
  .object({
    kind: z.literal('incident'),
    detectors: z.array(z.string().regex(NAME)).min(1).max(16),
    severity: z.enum(['info', 'warning', 'critical']),
    firstSeenUs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    lastSeenUs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    counts: z
      .record(z.string().regex(COUNT_NAME), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
      .refine((c) => Object.keys(c).length <= 64, 'at most 64 counts'),
    attackers: z.array(z.object({ kind: z.enum(['address', 'netgroup', 'asn']), id: z.string().regex(SUBJECT_ID) }).strict()).max(256),
    netgroups: z.array(z.string().regex(SUBJECT_ID)).max(256),
    evidenceDigest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict()
  .refine((r) => r.lastSeenUs >= r.firstSeenUs, 'lastSeenUs before firstSeenUs');

export type SharedReport = z.infer<typeof SharedReportSchema>;

export interface SharePolicy {
  /** `clear`: attacker IPs as they are (no port); `netgroup`: only their netgroups. */
  attackers: 'clear' | 'netgroup';
}

/** The shared report of an incident report. */
export function toSharedReport(r: IncidentReport, policy: SharePolicy): SharedReport {
  const attackers: SharedReport['attackers'] = [];
  const seen = new Set<string>();
  const add = (kind: SharedReport['attackers'][number]['kind'], id: string) => {
    const key = `${kind}/${id}`;
    if (seen.has(key) || !SUBJECT_ID.test(id) || attackers.length >= 256) return;
    seen.add(key);
    attackers.push({ kind, id });
  };
  for (const s of r.subjects) {
    if (s.kind === 'peer') {
      if (policy.attackers === 'clear') add('address', ipOfRemote(s.id));
      else add('netgroup', netgroupOfRemote(s.id));
    } else if (s.kind === 'netgroup') add('netgroup', s.id);
    else if (s.kind === 'asn') add('asn', s.id);
    // 'node' and 'network' subjects are about us, not the attacker: never shared.
  }
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.totals)) {
    if (Object.keys(counts).length >= 64) break;
    if (COUNT_NAME.test(k) && Number.isSafeInteger(v) && v >= 0) counts[k] = v;
  }
  return SharedReportSchema.parse({
    kind: 'incident',
    detectors: [...new Set(r.incident.detectors)].filter((d) => NAME.test(d)).slice(0, 16),
    severity: r.incident.severity,
    firstSeenUs: r.incident.firstSeenUs,
    lastSeenUs: r.incident.lastSeenUs,
    counts,
    attackers,
    netgroups: [...new Set(r.netgroups)].filter((n) => SUBJECT_ID.test(n)).slice(0, 256),
    evidenceDigest: evidenceDigest(r),
  });
}

/** SHA-256 of the alerts' evidence in canonical form (attacker text with a lone surrogate: of its JSON text instead). */
export function evidenceDigest(r: IncidentReport): string {
  const evidence = r.alerts.map((a) => ({ detector: a.detector, subject: a.subject, evidence: a.evidence }));
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(evidence);
  } catch {
    bytes = Buffer.from(JSON.stringify(evidence), 'utf8');
  }
  return createHash('sha256').update(bytes).digest('hex');
}
