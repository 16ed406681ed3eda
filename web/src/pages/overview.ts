/** Overview: observers, peers in/out, messages per second by command (uPlot), open alerts and incidents. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtTime, h, replace } from '../dom.js';
import type { State } from '../state.js';

const TOP = 7;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#6b7280'];

export class Overview {
  readonly el = h('section', { class: 'page' });
  private readonly cards = h('div', { class: 'cards' });
  private readonly chartBox = h('div', { class: 'chart', attrs: { 'data-testid': 'rate-chart' } });
  private readonly alertsBox = h('div');
  private plot: uPlot | null = null;
  private plotKey = '';
  private seriesSeen = -1;
  /** Points drawn in the chart (the tests read it). */
  points = 0;

  constructor() {
    this.el.append(
      this.cards,
      h('h2', null, 'Messages received per second, by command'),
      this.chartBox,
      h('h2', null, 'Open alerts'),
      this.alertsBox,
    );
  }

  render(s: State): void {
    let inbound = 0;
    let outbound = 0;
    for (const p of s.peers.values()) {
      if (p.state !== 'open') continue;
      if (p.direction === 'inbound') inbound++;
      else outbound++;
    }
    const open = [...s.alerts.values()].filter((a) => a.status === 'active');
    const openIncidents = [...s.incidents.values()].filter((i) => i.status === 'active').length;
    const card = (label: string, value: string | number, id: string, warn = false) =>
      h(
        'div',
        { class: `card${warn ? ' warn' : ''}`, dataset: { card: id } },
        h('div', { class: 'value' }, value),
        h('div', { class: 'label' }, label),
      );
    replace(
      this.cards,
      card('observers', s.observers.length ? s.observers.join(', ') : '—', 'observers'),
      card('peers in', inbound, 'peers-in'),
      card('peers out', outbound, 'peers-out'),
      card('open alerts', s.alertsEnabled ? open.length : 'off', 'alerts', open.length > 0),
      card('open incidents', s.alertsEnabled ? openIncidents : 'off', 'incidents', openIncidents > 0),
      card('events dropped', s.stats?.eventsDropped ?? 0, 'dropped', (s.stats?.eventsDropped ?? 0) > 0),
    );
    if (this.seriesSeen !== s.seriesVersion) {
      this.seriesSeen = s.seriesVersion;
      this.drawChart(s);
    }
    open.sort((a, b) => b.lastSeenUs - a.lastSeenUs);
    replace(
      this.alertsBox,
      open.length === 0
        ? h('p', { class: 'muted' }, s.alertsEnabled ? 'No open alerts.' : 'Detectors are off in this process.')
        : h(
            'ul',
            { class: 'alert-list' },
            ...open
              .slice(0, 10)
              .map((a) =>
                h(
                  'li',
                  { class: `sev-${a.severity}` },
                  h('span', { class: 'badge' }, a.severity),
                  ' ',
                  h('b', null, a.detector),
                  ` ${a.subject.kind} `,
                  h('code', null, a.subject.id),
                  ` — ${a.summary} `,
                  h('span', { class: 'muted' }, `(last ${fmtTime(a.lastSeenUs)})`),
                ),
              ),
            open.length > 10 ? h('li', { class: 'muted' }, `… and ${open.length - 10} more (Alerts page)`) : null,
          ),
    );
  }

  private drawChart(s: State): void {
    const totals = new Map<string, number>();
    for (const p of s.points) for (const [c, n] of Object.entries(p.counts)) totals.set(c, (totals.get(c) ?? 0) + n);
    const top = [...totals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([c]) => c)
      .sort();
    const keep = new Set(top);
    const hasOther = totals.size > top.length;
    const names = hasOther ? [...top, 'other'] : top;
    const xs = s.points.map((p) => p.t / 1000);
    const cols = names.map((n) =>
      s.points.map((p) => {
        if (n !== 'other' || keep.has('other')) return p.counts[n] ?? 0;
        let sum = 0;
        for (const [c, v] of Object.entries(p.counts)) if (!keep.has(c)) sum += v;
        return sum;
      }),
    );
    const data = [xs, ...cols] as uPlot.AlignedData;
    this.points = xs.length;
    this.chartBox.dataset.points = String(xs.length);
    const key = names.join(',');
    const width = Math.max(300, this.chartBox.clientWidth || 800);
    if (!this.plot || key !== this.plotKey) {
      this.plot?.destroy();
      this.plotKey = key;
      this.plot = new uPlot(
        {
          width,
          height: 260,
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [
            {
              // Whole seconds only: sub-second ticks would repeat the same HH:MM:SS label.
              incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600],
              values: (_u, splits) => splits.map((t) => new Date(t * 1000).toTimeString().slice(0, 8)),
              space: 80,
            },
            { label: 'msg/s', size: 50 },
          ],
          series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length]!, width: 1.5, points: { show: false } }))],
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
        },
        data,
        this.chartBox,
      );
    } else {
      if (Math.abs(this.plot.width - width) > 20) this.plot.setSize({ width, height: 260 });
      this.plot.setData(data);
    }
  }
}
