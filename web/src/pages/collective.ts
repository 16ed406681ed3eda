/**
 * The collective (run --collective, docs/collective.md): the incidents k
 * members confirmed (detector `collective-incident`), each member's evidence
 * digest, and the members' reports as they arrived (detector `collective`).
 * Everything shown came from other operators: text only, never markup.
 */
import type { Alert } from '../../../src/events/types.js';
import { fmtTime, h, replace, table } from '../dom.js';
import type { State } from '../state.js';

const SHOWN = 50;

interface MemberSample {
  member?: unknown;
  atMs?: unknown;
  detectors?: unknown;
  evidenceDigest?: unknown;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(String).join(', ') : '');

export class Collective {
  readonly el = h('section', { class: 'page' });
  private readonly body = h('div');

  constructor() {
    this.el.append(this.body);
  }

  render(s: State): void {
    const confirmed: Alert[] = [];
    const reports: Alert[] = [];
    for (const a of s.alerts.values()) {
      if (a.detector === 'collective-incident') confirmed.push(a);
      else if (a.detector === 'collective') reports.push(a);
    }
    const sig = `${confirmed.map((a) => `${a.id}:${a.count}`).join(',')}|${reports.length}`;
    if (this.el.dataset.sig === sig) return;
    this.el.dataset.sig = sig;
    confirmed.sort((a, b) => b.lastSeenUs - a.lastSeenUs);
    reports.sort((a, b) => b.lastSeenUs - a.lastSeenUs);
    // The members' weight when the trust file gives some other than 1 (docs/collective.md, "weight").
    const members = (a: Alert) => {
      const n = a.nodeIds.length;
      const w = a.evidence.counts['weight'];
      return `${n} member${n === 1 ? '' : 's'}${typeof w === 'number' && w !== n ? ` (weight ${w})` : ''}`;
    };
    const incident = (a: Alert) =>
      h(
        'article',
        { class: `incident sev-${a.severity}`, dataset: { collective: a.id } },
        h(
          'header',
          null,
          h('span', { class: 'badge' }, a.severity),
          ' ',
          h('b', null, `${a.subject.kind} `),
          h('code', null, a.subject.id),
          ` · ${members(a)} · ${fmtTime(a.firstSeenUs)} → ${fmtTime(a.lastSeenUs)}`,
        ),
        table(
          ['member', 'reported', 'detectors', 'evidence digest'],
          a.evidence.samples.map((x) => {
            const m = (x ?? {}) as MemberSample;
            return [
              text(m.member),
              typeof m.atMs === 'number' ? fmtTime(m.atMs * 1000) : '',
              text(m.detectors),
              h('code', null, text(m.evidenceDigest)),
            ];
          }),
          'members',
        ),
      );
    replace(
      this.body,
      h('h2', null, `Confirmed by the collective (${confirmed.length})`),
      confirmed.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'Nothing confirmed yet: an attacker netgroup or ASN reported within the window by members whose weights add up to k shows here.',
          )
        : null,
      ...confirmed.slice(0, SHOWN).map(incident),
      h('h2', null, `Members' reports (${reports.length})`),
      reports.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'No reports from other members yet (this observer runs without --collective, or nothing was reported).',
          )
        : table(
            ['last seen', 'member', 'severity', 'about', 'summary'],
            reports
              .slice(0, SHOWN)
              .map((a) => [fmtTime(a.lastSeenUs), a.nodeIds[0] ?? '', a.severity, `${a.subject.kind} ${a.subject.id}`, a.summary]),
            'reports',
          ),
    );
  }
}
