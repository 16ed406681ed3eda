/**
 * A peer's messages as a sequence diagram: two lifelines (the peer on the
 * left, this observer or the watched node on the right), one arrow per message
 * in the order they happened, oldest first, with the time since the previous
 * message beside it, so a handshake, a ping/pong exchange or an inv/getdata
 * dance reads at a glance, and so do gaps and bursts. Commands and summaries
 * are peer-chosen: they go in as text (dom.ts).
 */
import type { MessageItem } from '../../../src/live/feed.js';
import { fmtTime, h } from '../dom.js';

/** Most arrows drawn (the newest); the state keeps the last 500 messages. */
export const SEQUENCE_MAX = 300;

function gap(us: number): string {
  if (us < 1000) return `+${Math.round(us)}µs`;
  if (us < 1_000_000) return `+${(us / 1000).toFixed(us < 10_000 ? 1 : 0)}ms`;
  if (us < 60_000_000) return `+${(us / 1e6).toFixed(1)}s`;
  return `+${Math.round(us / 60e6)}m`;
}

export function sequenceView(messages: readonly MessageItem[], peer: string, us: string): HTMLElement {
  const shown = messages.slice(-SEQUENCE_MAX);
  const rows = shown.map((m, i) => {
    const prev = i > 0 ? shown[i - 1]!.timeUs : m.timeUs;
    const inbound = m.dir === 'in';
    return h(
      'div',
      { class: `seq-row ${inbound ? 'in' : 'out'}`, dataset: { command: m.command }, title: m.summary },
      h(
        'span',
        { class: 'seq-time muted' },
        fmtTime(m.timeUs).slice(11),
        ' ',
        h('span', { class: 'seq-gap' }, i > 0 ? gap(m.timeUs - prev) : ''),
      ),
      h('span', { class: 'seq-lane' }),
      h('span', { class: 'seq-arrow' }, h('b', null, m.command), ` ${m.size} B`),
      h('span', { class: 'seq-lane' }),
    );
  });
  return h(
    'div',
    { class: 'sequence', attrs: { 'data-testid': 'peer-sequence' } },
    h('div', { class: 'seq-head' }, h('span', null, ''), h('span', null, peer), h('span', { class: 'seq-us' }, us)),
    ...rows,
    messages.length > shown.length ? h('div', { class: 'muted' }, `${messages.length - shown.length} older messages not drawn`) : null,
  );
}
