/**
 * Incident reports: a self-contained JSON document and its Markdown rendering
 * (timeline, alerts with evidence, subjects, netgroups, counts, samples).
 * `redact` replaces the observers' own addresses (the local side of their
 * connections, what peers said our address is, listen addresses) and, when
 * asked, their node ids with placeholders, everywhere in the report.
 */
import type { Alert, Incident } from './types.js';
import type { JsonValue } from '../../events/types.js';

export interface IncidentReport {
  format: 'peer-observer incident report';
  version: 1;
  generatedAt: string;
  redacted: boolean;
  incident: Incident;
  alerts: Alert[];
  timeline: { timeUs: number; time: string; what: string }[];
  subjects: Incident['subjects'];
  netgroups: string[];
  observers: string[];
  totals: Record<string, number>;
}

export interface RedactOptions {
  /** The observers' own addresses (`ip:port` or `ip`). */
  ownAddresses: string[];
  /** Also replace node ids with `observer-N`. */
  nodeIds: boolean;
}

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

export function buildReport(incident: Incident, alerts: Alert[], redact?: RedactOptions, now = new Date()): IncidentReport {
  const ordered = [...alerts].sort((a, b) => a.firstSeenUs - b.firstSeenUs);
  const timeline: IncidentReport['timeline'] = [];
  for (const a of ordered) {
    timeline.push({ timeUs: a.firstSeenUs, time: iso(a.firstSeenUs), what: `${a.severity} ${a.detector} raised: ${a.summary}` });
    if (a.resolvedUs !== undefined)
      timeline.push({ timeUs: a.resolvedUs, time: iso(a.resolvedUs), what: `${a.detector} on ${a.subject.kind} ${a.subject.id} resolved` });
  }
  if (incident.resolvedUs !== undefined)
    timeline.push({ timeUs: incident.resolvedUs, time: iso(incident.resolvedUs), what: 'incident resolved' });
  timeline.sort((a, b) => a.timeUs - b.timeUs);
  const totals: Record<string, number> = {};
  for (const a of ordered)
    for (const [k, v] of Object.entries(a.evidence.counts)) totals[`${a.detector}.${k}`] = Math.max(totals[`${a.detector}.${k}`] ?? 0, v);
  const report: IncidentReport = {
    format: 'peer-observer incident report',
    version: 1,
    generatedAt: now.toISOString(),
    redacted: redact !== undefined,
    incident,
    alerts: ordered,
    timeline,
    subjects: incident.subjects,
    netgroups: incident.netgroups,
    observers: incident.nodeIds,
    totals,
  };
  return redact ? redactReport(report, redact) : report;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replace own addresses (and node ids) in every string of the report. */
export function redactReport(report: IncidentReport, o: RedactOptions): IncidentReport {
  const replacements: [RegExp, string][] = [];
  const ips = [...new Set(o.ownAddresses.map(hostOf).filter((x) => x !== '' && x !== '0.0.0.0' && x !== '::'))].sort(
    (a, b) => b.length - a.length,
  );
  ips.forEach((ip, i) =>
    replacements.push([new RegExp(`(?<![0-9A-Za-z.:])${escapeRegExp(ip)}(?![0-9A-Za-z])`, 'g'), `<observer-address-${i + 1}>`]),
  );
  if (o.nodeIds) {
    const ids = [...new Set([...report.observers, ...report.alerts.flatMap((a) => a.nodeIds)])].sort((a, b) => b.length - a.length);
    ids.forEach((id, i) =>
      replacements.push([new RegExp(`(?<![0-9A-Za-z._-])${escapeRegExp(id)}(?![0-9A-Za-z._-])`, 'g'), `observer-${i + 1}`]),
    );
  }
  const walk = (v: JsonValue): JsonValue => {
    if (typeof v === 'string') {
      let s = v;
      for (const [re, to] of replacements) s = s.replace(re, to);
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: { [k: string]: JsonValue } = {};
      for (const [k, x] of Object.entries(v)) out[walk(k) as string] = walk(x);
      return out;
    }
    return v;
  };
  const redacted = walk(report as unknown as JsonValue) as unknown as IncidentReport;
  redacted.redacted = true;
  return redacted;
}

function hostOf(address: string): string {
  const a = address.trim();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  return a.split(':').length === 2 ? a.slice(0, a.lastIndexOf(':')) : a;
}

/** Markdown-safe inline text: attacker-controlled strings cannot break out of code spans or tables. */
function md(s: string): string {
  return s.replace(/[\\`*_{}[\]<>|#!]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

function code(v: JsonValue): string {
  return JSON.stringify(v, null, 2).replace(/```/g, '`\u200b``');
}

export function renderMarkdown(r: IncidentReport): string {
  const i = r.incident;
  const lines: string[] = [];
  lines.push(`# Incident ${md(i.id)}: ${md(i.title)}`, '');
  lines.push(`- Severity: **${i.severity}**, status: ${i.status}`);
  lines.push(
    `- First seen: ${iso(i.firstSeenUs)}, last seen: ${iso(i.lastSeenUs)}${i.resolvedUs !== undefined ? `, resolved: ${iso(i.resolvedUs)}` : ''}`,
  );
  lines.push(`- Detectors: ${i.detectors.map(md).join(', ')}`);
  lines.push(`- Observers: ${r.observers.map(md).join(', ')}`);
  lines.push(`- Report generated ${r.generatedAt} by peer-observer${r.redacted ? "; the observers' own addresses are redacted" : ''}`, '');
  lines.push('## Subjects', '', '| kind | id |', '|------|----|');
  for (const s of r.subjects) lines.push(`| ${s.kind} | ${md(s.id)} |`);
  lines.push('', '## Netgroups', '');
  lines.push(r.netgroups.length ? r.netgroups.map((n) => `- ${md(n)}`).join('\n') : '- (none)');
  lines.push('', '## Timeline', '', '| time (UTC) | event |', '|------------|-------|');
  for (const t of r.timeline) lines.push(`| ${t.time} | ${md(t.what)} |`);
  lines.push('', '## Alerts', '');
  for (const a of r.alerts) {
    lines.push(`### ${md(a.detector)} — ${a.subject.kind} ${md(a.subject.id)} (${a.severity}, ${a.status})`, '');
    lines.push(md(a.summary), '');
    lines.push(
      `- Alert ${md(a.id)}; ${a.count} signals; ${iso(a.firstSeenUs)} to ${iso(a.lastSeenUs)}; observers ${a.nodeIds.map(md).join(', ')}`,
      '',
    );
    lines.push('| count | value |', '|-------|-------|');
    for (const [k, v] of Object.entries(a.evidence.counts)) lines.push(`| ${md(k)} | ${v} |`);
    if (a.evidence.samples.length) {
      lines.push('', `Samples (${a.evidence.samples.length}):`, '', '```json', code(a.evidence.samples), '```');
    }
    lines.push('');
  }
  lines.push('## Totals', '', '| count | value |', '|-------|-------|');
  for (const [k, v] of Object.entries(r.totals)) lines.push(`| ${md(k)} | ${v} |`);
  lines.push('');
  return lines.join('\n');
}
