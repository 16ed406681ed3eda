/**
 * Peers, like `bitcoin-cli -netinfo`: sortable, filterable, virtualised (only
 * the rows in view are in the DOM, whatever the number of peers). A click
 * opens the peer: its details and recent messages, live.
 */
import type { LivePeer } from '../../../src/live/feed.js';
import { fmtAge, fmtBytes, fmtTime, h, replace, type Child } from '../dom.js';
import type { State } from '../state.js';
import { sequenceView } from './sequence.js';

const ROW_H = 26;
const OVERSCAN = 10;

interface Column {
  id: string;
  label: string;
  title?: string;
  value: (p: LivePeer, nowSec: number) => string | number;
  num?: boolean;
  cls?: string;
}

export function flagsOf(p: LivePeer): string {
  const f: string[] = [];
  if (p.spy) f.push('spy');
  if (p.listMatch) f.push(`list:${p.listMatch}`);
  if (p.flags.v2) f.push('v2');
  if (p.flags.addrV2) f.push('addrv2');
  if (p.flags.wtxidRelay) f.push('wtxid');
  if (!p.flags.handshakeComplete) f.push('no-verack');
  return f.join(' ');
}

const ageOf = (p: LivePeer, nowSec: number) => (p.state === 'open' ? Math.max(0, nowSec - p.openedUs / 1e6) : p.ageSec);

const COLUMNS: Column[] = [
  { id: 'id', label: 'id', value: (p) => p.id, num: true },
  { id: 'address', label: 'address', value: (p) => p.address, cls: 'mono' },
  {
    id: 'dir',
    label: 'dir',
    title: 'direction / connection type',
    value: (p) => (p.connType ?? p.direction).replace('outbound-full-relay', 'out-full'),
  },
  { id: 'net', label: 'net', value: (p) => p.network },
  {
    id: 'transport',
    label: 'transport',
    title: 'v1, or BIP324 v2 (encrypted)',
    value: (p) => (p.transport === 'unknown' ? '' : p.transport),
  },
  { id: 'ua', label: 'user agent', value: (p) => p.userAgent ?? '', cls: 'ua' },
  { id: 'version', label: 'version', value: (p) => p.version ?? '', num: true },
  { id: 'services', label: 'services', value: (p) => (p.serviceNames.length ? p.serviceNames.map(abbrev).join('') : (p.services ?? '')) },
  { id: 'age', label: 'age', value: ageOf, num: true },
  { id: 'in', label: 'recv', value: (p) => p.bytesIn, num: true },
  { id: 'out', label: 'sent', value: (p) => p.bytesOut, num: true },
  { id: 'ping', label: 'ping ms', value: (p) => (p.pingMs === null ? '' : Math.round(p.pingMs * 10) / 10), num: true },
  {
    id: 'addr',
    label: 'addr',
    title: 'addr entries received (Core: processed)',
    value: (p) => p.addr.processed ?? p.addr.entries,
    num: true,
  },
  { id: 'ratelim', label: 'rate-lim', title: 'addresses rate-limited (Core sources)', value: (p) => p.addr.rateLimited ?? '', num: true },
  { id: 'flags', label: 'flags', value: flagsOf },
  { id: 'state', label: 'state', value: (p) => p.state },
];

/** Service bits as letters, as -netinfo's legend and getpeerinfo's servicesnames: N W B C L 2. */
function abbrev(name: string): string {
  const m: Record<string, string> = { NETWORK: 'N', WITNESS: 'W', BLOOM: 'B', COMPACT_FILTERS: 'C', NETWORK_LIMITED: 'L', P2P_V2: '2' };
  return m[name.toUpperCase().replace(/^NODE_/, '')] ?? '?';
}

export class Peers {
  readonly el = h('section', { class: 'page peers-page' });
  private readonly filter = h('input', {
    attrs: { type: 'search', placeholder: 'filter: address, user agent, network, flag…', 'aria-label': 'filter peers' },
  });
  private readonly showClosed = h('input', { attrs: { type: 'checkbox', 'aria-label': 'show closed peers' } });
  private readonly count = h('span', { class: 'muted' });
  private readonly scroller = h('div', { class: 'scroller' });
  private readonly tbody = h('tbody');
  private readonly headRow = h('tr');
  private readonly detail = h('aside', { class: 'detail', attrs: { 'data-testid': 'peer-detail' } });
  private sortBy = 'id';
  private sortDesc = false;
  private rows: LivePeer[] = [];
  private rowsVersion = -1;
  /** Rows in the DOM now (the tests read it). */
  domRows = 0;
  /** The selected peer's messages as a list (newest first) or a sequence diagram (oldest first). */
  private view: 'list' | 'sequence' = 'list';

  constructor(
    private readonly onSelect: (key: string | null) => void,
    private readonly invalidate: () => void,
  ) {
    this.filter.addEventListener('input', () => this.resort());
    this.showClosed.addEventListener('change', () => this.resort());
    this.scroller.addEventListener('scroll', () => this.invalidate(), { passive: true });
    const t = h('table', { class: 'grid' }, h('thead', null, this.headRow), this.tbody);
    this.scroller.append(t);
    this.el.append(
      h(
        'div',
        { class: 'toolbar' },
        this.filter,
        h('label', null, this.showClosed, ' closed peers too'),
        this.count,
        h(
          'span',
          { class: 'muted hint' },
          'click a column to sort, a peer for its live messages · services: N network, W witness, L limited, C filters, B bloom, 2 v2',
        ),
      ),
      h('div', { class: 'split' }, this.scroller, this.detail),
    );
    this.drawHead();
    this.detail.hidden = true;
  }

  private resort(): void {
    this.rowsVersion = -1;
    this.invalidate();
  }

  private drawHead(): void {
    replace(
      this.headRow,
      ...COLUMNS.map((c) =>
        h(
          'th',
          {
            title: c.title ?? `sort by ${c.label}`,
            class: c.num ? 'num' : '',
            onclick: () => {
              if (this.sortBy === c.id) this.sortDesc = !this.sortDesc;
              else {
                this.sortBy = c.id;
                this.sortDesc = !!c.num;
              }
              this.drawHead();
              this.resort();
            },
          },
          c.label,
          this.sortBy === c.id ? (this.sortDesc ? ' ▼' : ' ▲') : '',
        ),
      ),
    );
  }

  render(s: State, selected: string | null): void {
    const nowSec = (Date.now() + s.skewMs) / 1000;
    if (this.rowsVersion !== s.version) {
      this.rowsVersion = s.version;
      const q = this.filter.value.trim().toLowerCase();
      const closed = this.showClosed.checked;
      const col = COLUMNS.find((c) => c.id === this.sortBy)!;
      const rows: LivePeer[] = [];
      let open = 0;
      for (const p of s.peers.values()) {
        if (p.state === 'open') open++;
        else if (!closed) continue;
        if (
          q &&
          !`${p.address} ${p.userAgent ?? ''} ${p.network} ${p.connType ?? p.direction} ${flagsOf(p)} ${p.asn ?? ''}`
            .toLowerCase()
            .includes(q)
        )
          continue;
        rows.push(p);
      }
      const dir = this.sortDesc ? -1 : 1;
      const keyed = rows.map((p) => ({ p, v: col.value(p, nowSec) }));
      keyed.sort((a, b) => (a.v < b.v ? -dir : a.v > b.v ? dir : a.p.key < b.p.key ? -1 : 1));
      this.rows = keyed.map((k) => k.p);
      this.count.textContent = `${this.rows.length} shown · ${open} open · ${s.peers.size} known`;
    }
    // Only the rows in view (plus a margin) exist in the DOM.
    const viewH = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((this.scroller.scrollTop + viewH) / ROW_H) + OVERSCAN);
    const visible: Child[] = [h('tr', { class: 'spacer', attrs: { style: `height:${first * ROW_H}px` } })];
    for (let i = first; i < last; i++) {
      const p = this.rows[i]!;
      visible.push(
        h(
          'tr',
          {
            class: `${p.key === selected ? 'selected ' : ''}${p.state === 'closed' ? 'closed ' : ''}${p.spy || p.listMatch ? 'flagged' : ''}`,
            dataset: { key: p.key },
            onclick: () => this.onSelect(p.key === selected ? null : p.key),
          },
          ...COLUMNS.map((c) => {
            const v = c.value(p, nowSec);
            const text = c.id === 'in' || c.id === 'out' ? fmtBytes(Number(v)) : c.id === 'age' ? fmtAge(Number(v)) : String(v);
            return h('td', { class: `${c.num ? 'num ' : ''}${c.cls ?? ''}`, title: c.id === 'ua' ? String(v) : undefined }, text);
          }),
        ),
      );
    }
    visible.push(h('tr', { class: 'spacer', attrs: { style: `height:${(this.rows.length - last) * ROW_H}px` } }));
    replace(this.tbody, ...visible);
    this.domRows = last - first;
    this.renderDetail(s, selected, nowSec);
  }

  private setView(view: 'list' | 'sequence'): void {
    this.view = view;
    this.invalidate();
  }

  private renderDetail(s: State, selected: string | null, nowSec: number): void {
    const p = selected ? s.peers.get(selected) : undefined;
    this.detail.hidden = !p;
    if (!p) return;
    const kv = (k: string, v: Child) => h('tr', null, h('th', null, k), h('td', null, v));
    replace(
      this.detail,
      h(
        'h3',
        null,
        'Peer ',
        h('code', null, p.address),
        h('button', { class: 'close', title: 'close', onclick: () => this.onSelect(null) }, '×'),
      ),
      h(
        'table',
        { class: 'kv' },
        h(
          'tbody',
          null,
          kv('observer', `${p.nodeId} (${p.source}) #${p.id}`),
          kv('user agent', h('span', { class: 'ua-full' }, p.userAgent ?? '—')),
          kv('direction', `${p.direction}${p.connType ? ` (${p.connType})` : ''}`),
          kv('network / netgroup', `${p.network} / ${p.netgroup || '—'}${p.asn ? ` / AS${p.asn}` : ''}`),
          kv('version / services', `${p.version ?? '—'} / ${p.serviceNames.join(' ') || (p.services ?? '—')}`),
          kv('age', fmtAge(ageOf(p, nowSec))),
          kv('messages in / out', `${p.messagesIn} / ${p.messagesOut}`),
          kv('flags', flagsOf(p) || '—'),
          kv('transport', p.transport + (p.sessionId ? ` (session ${p.sessionId})` : '')),
          p.state === 'closed' ? kv('closed', `${p.closeReason ?? ''} at ${p.closedUs ? fmtTime(p.closedUs) : ''}`) : null,
        ),
      ),
      h(
        'div',
        { class: 'view-toggle' },
        ...(['list', 'sequence'] as const).map((v) =>
          h(
            'button',
            { class: this.view === v ? 'active' : '', dataset: { view: v }, onclick: () => this.setView(v) },
            v === 'list' ? 'list' : 'sequence diagram',
          ),
        ),
      ),
      this.view === 'sequence'
        ? h('h4', null, `Message sequence (${s.messages.length}, oldest first)`)
        : h('h4', null, `Recent messages (${s.messages.length}, newest first)`),
      this.view === 'sequence'
        ? sequenceView(s.messages, `peer ${p.address}`, p.source === 'p2p' ? 'observer' : `node (${p.source})`)
        : h(
            'div',
            { class: 'messages', attrs: { 'data-testid': 'peer-messages' } },
            ...s.messages
              .slice(-200)
              .reverse()
              .map((m) =>
                h(
                  'div',
                  { class: `msg ${m.dir}` },
                  h('span', { class: 'muted' }, fmtTime(m.timeUs).slice(11)),
                  ` ${m.dir === 'in' ? '←' : '→'} `,
                  h('b', null, m.command),
                  ` ${m.size} B `,
                  h('span', { class: 'payload' }, m.summary),
                ),
              ),
          ),
    );
  }
}
