/** Alerts and incidents: each incident's timeline with its alerts' evidence, and the export (Markdown, JSON). */
import type { Alert, Incident } from '../../../src/events/types.js';
import { fmtTime, h, replace } from '../dom.js';
import { token } from '../live.js';
import type { State } from '../state.js';

const INCIDENTS = 30;

async function download(id: string, format: 'md' | 'json', status: HTMLElement): Promise<void> {
  const t = token();
  try {
    const res = await fetch(`/api/incidents/${encodeURIComponent(id)}/export?format=${format}`, {
      headers: t ? { authorization: `Bearer ${t}` } : {},
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { attrs: { href: url, download: `incident-${id.replace(/[^A-Za-z0-9_-]/g, '_')}.${format}` } });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    status.textContent = '';
  } catch (err) {
    status.textContent = `export failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function alertView(a: Alert): HTMLElement {
  return h(
    'li',
    { class: `sev-${a.severity}` },
    h('span', { class: 'muted' }, fmtTime(a.firstSeenUs)),
    ' ',
    h('span', { class: 'badge' }, a.severity),
    ' ',
    h('b', null, a.detector),
    ` on ${a.subject.kind} `,
    h('code', null, a.subject.id),
    ` — ${a.summary}`,
    a.status === 'resolved' ? h('span', { class: 'muted' }, ` (resolved ${a.resolvedUs ? fmtTime(a.resolvedUs) : ''})`) : null,
    h(
      'details',
      null,
      h(
        'summary',
        null,
        `evidence: ${
          Object.entries(a.evidence.counts)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || '—'
        }`,
      ),
      h('pre', { class: 'evidence' }, a.evidence.samples.map((x) => JSON.stringify(x)).join('\n') || '(no samples)'),
    ),
  );
}

export class Alerts {
  readonly el = h('section', { class: 'page' });
  private readonly body = h('div');
  private seen = -1;

  constructor() {
    this.el.append(this.body);
  }

  render(s: State): void {
    if (this.seen === s.version) return;
    // Keep an open <details> stable: only redraw when alerts or incidents changed.
    const sig = `${s.alerts.size}:${s.incidents.size}:${[...s.alerts.values()].reduce((n, a) => n + a.count + a.lastSeenUs, 0)}`;
    if (this.el.dataset.sig === sig) return;
    this.el.dataset.sig = sig;
    this.seen = s.version;
    if (!s.alertsEnabled) {
      replace(this.body, h('p', { class: 'muted' }, 'Detectors are off in this process.'));
      return;
    }
    const incidents = [...s.incidents.values()].sort((a, b) => b.lastSeenUs - a.lastSeenUs);
    const byIncident = new Map<string, Alert[]>();
    for (const a of s.alerts.values()) {
      const list = byIncident.get(a.incidentId) ?? [];
      list.push(a);
      byIncident.set(a.incidentId, list);
    }
    const view = (i: Incident) => {
      const status = h('span', { class: 'muted' });
      const alerts = (byIncident.get(i.id) ?? []).sort((a, b) => a.firstSeenUs - b.firstSeenUs);
      return h(
        'article',
        { class: `incident sev-${i.severity}`, dataset: { incident: i.id } },
        h(
          'header',
          null,
          h('span', { class: 'badge' }, i.severity),
          ' ',
          h('b', null, i.title),
          ` · ${i.status} · ${fmtTime(i.firstSeenUs)} → ${fmtTime(i.lastSeenUs)} · ${i.detectors.join(', ')}`,
          h(
            'span',
            { class: 'export' },
            'export: ',
            h('button', { onclick: () => void download(i.id, 'md', status) }, 'Markdown'),
            ' ',
            h('button', { onclick: () => void download(i.id, 'json', status) }, 'JSON'),
            ' ',
            status,
          ),
        ),
        h('ol', { class: 'timeline' }, ...alerts.map(alertView)),
      );
    };
    replace(
      this.body,
      h('h2', null, `Incidents (${incidents.length})`),
      incidents.length === 0 ? h('p', { class: 'muted' }, 'No incidents yet.') : null,
      ...incidents.slice(0, INCIDENTS).map(view),
      incidents.length > INCIDENTS
        ? h('p', { class: 'muted' }, `… ${incidents.length - INCIDENTS} older incidents (see /api/incidents)`)
        : null,
    );
  }
}
