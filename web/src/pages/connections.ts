/** Connections by netgroup and by ASN, with the diversity figures. */
import type { LivePeer } from '../../../src/live/feed.js';
import { h, replace, table } from '../dom.js';
import type { State } from '../state.js';

const ROWS = 50;

/** Distinct groups, the effective number of groups (exp of the Shannon entropy of the shares), and the largest share. */
export function diversity(counts: Map<string, number>): { groups: number; effective: number; largestShare: number } {
  let total = 0;
  for (const n of counts.values()) total += n;
  if (total === 0) return { groups: 0, effective: 0, largestShare: 0 };
  let entropy = 0;
  let largest = 0;
  for (const n of counts.values()) {
    const p = n / total;
    entropy -= p * Math.log(p);
    largest = Math.max(largest, p);
  }
  return { groups: counts.size, effective: Math.exp(entropy), largestShare: largest };
}

function grouped(peers: LivePeer[], key: (p: LivePeer) => string) {
  const m = new Map<string, { inbound: number; outbound: number; total: number }>();
  for (const p of peers) {
    const k = key(p);
    const g = m.get(k) ?? { inbound: 0, outbound: 0, total: 0 };
    if (p.direction === 'inbound') g.inbound++;
    else g.outbound++;
    g.total++;
    m.set(k, g);
  }
  return m;
}

export class Connections {
  readonly el = h('section', { class: 'page' });
  private readonly body = h('div');
  private seen = -1;

  constructor() {
    this.el.append(this.body);
  }

  render(s: State): void {
    if (this.seen === s.version) return;
    this.seen = s.version;
    const peers = [...s.peers.values()].filter((p) => p.state === 'open');
    const section = (title: string, key: (p: LivePeer) => string, label: string) => {
      const g = grouped(peers, key);
      const d = diversity(new Map([...g].map(([k, v]) => [k, v.total])));
      const rows = [...g.entries()].sort((a, b) => b[1].total - a[1].total);
      return [
        h('h2', null, title),
        h(
          'div',
          { class: 'cards', dataset: { diversity: label } },
          h('div', { class: 'card' }, h('div', { class: 'value' }, d.groups), h('div', { class: 'label' }, `distinct ${label}s`)),
          h(
            'div',
            { class: 'card', title: 'exp(Shannon entropy of the shares): as many equally used groups would give the same spread' },
            h('div', { class: 'value' }, d.effective.toFixed(1)),
            h('div', { class: 'label' }, `effective ${label}s (diversity)`),
          ),
          h(
            'div',
            { class: `card${d.largestShare > 0.5 && peers.length >= 4 ? ' warn' : ''}` },
            h('div', { class: 'value' }, `${(d.largestShare * 100).toFixed(0)}%`),
            h('div', { class: 'label' }, `largest ${label}'s share`),
          ),
        ),
        rows.length === 0
          ? h('p', { class: 'muted' }, 'No open connections.')
          : table(
              [label, 'inbound', 'outbound', 'total', 'share'],
              rows
                .slice(0, ROWS)
                .map(([k, v]) => [h('code', null, k), v.inbound, v.outbound, v.total, `${((v.total / peers.length) * 100).toFixed(1)}%`]),
              'num-table',
            ),
        rows.length > ROWS ? h('p', { class: 'muted' }, `top ${ROWS} of ${rows.length}`) : null,
      ];
    };
    replace(
      this.body,
      ...section('Connections by netgroup', (p) => p.netgroup || 'unknown', 'netgroup'),
      ...(s.asnSource
        ? [
            h('p', { class: 'muted' }, `ASNs from ${s.asnSource}`),
            ...section('Connections by ASN', (p) => (p.asn ? `AS${p.asn}` : 'unmapped'), 'ASN'),
          ]
        : [
            h('h2', null, 'Connections by ASN'),
            h(
              'p',
              { class: 'muted' },
              'Start the observer with --asmap FILE (a Bitcoin Core asmap file) or --geoip-asn FILE (a MaxMind ASN database) to group peers by ASN.',
            ),
          ]),
    );
  }
}
