/** Relay views: addr relay by network and direction, ping/pong, tx relay (inv/getdata/tx, unsolicited, unannounced). */
import type { LivePeer } from '../../../src/live/feed.js';
import { h, replace, table } from '../dom.js';
import type { State } from '../state.js';

const ROWS = 50;
const NETS = ['ipv4', 'ipv6', 'torv3', 'i2p', 'cjdns'];
const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
const cmd = (p: LivePeer, dir: 'in' | 'out', c: string) => (dir === 'in' ? p.commandsIn[c] : p.commandsOut[c]) ?? 0;
const ms = (v: number | null) => (v === null ? '—' : (Math.round(v * 10) / 10).toFixed(1));
const peerCell = (p: LivePeer) => h('code', { title: p.userAgent ?? '' }, p.address);

export class Relay {
  readonly el = h('section', { class: 'page' });
  private readonly addr = h('div');
  private readonly ping = h('div');
  private readonly tx = h('div');
  private seen = -1;

  constructor() {
    this.el.append(
      h('h2', null, 'Address relay'),
      h('p', { class: 'muted' }, 'addr/addrv2 entries received from and sent to each peer, by address network (most received first).'),
      this.addr,
      h('h2', null, 'Ping / pong'),
      this.ping,
      h('h2', null, 'Transaction relay'),
      h(
        'p',
        { class: 'muted' },
        'inv announcements of transactions, our getdata requests and the transactions received. Unsolicited: a tx with no getdata of ours outstanding. Unannounced: a tx whose id the peer never announced (counted only while every announcement was seen).',
      ),
      this.tx,
    );
  }

  render(s: State): void {
    if (this.seen === s.version) return;
    this.seen = s.version;
    const peers = [...s.peers.values()].filter((p) => p.state === 'open');
    const more = (n: number) => (n > ROWS ? h('p', { class: 'muted' }, `top ${ROWS} of ${n}`) : null);

    const byAddr = peers
      .filter((p) => sum(p.relay.addrIn) + sum(p.relay.addrOut) > 0)
      .sort((a, b) => sum(b.relay.addrIn) - sum(a.relay.addrIn));
    replace(
      this.addr,
      byAddr.length === 0
        ? h('p', { class: 'muted' }, 'No addresses relayed yet.')
        : table(
            ['peer', 'dir', ...NETS.map((n) => `in ${n}`), 'in other', 'in total', 'out total'],
            byAddr.slice(0, ROWS).map((p) => {
              const other = sum(p.relay.addrIn) - NETS.reduce((a, n) => a + (p.relay.addrIn[n] ?? 0), 0);
              return [
                peerCell(p),
                p.direction,
                ...NETS.map((n) => p.relay.addrIn[n] ?? 0),
                other,
                sum(p.relay.addrIn),
                sum(p.relay.addrOut),
              ];
            }),
            'num-table',
          ),
      more(byAddr.length),
    );

    const byPing = peers
      .filter((p) => cmd(p, 'in', 'ping') + cmd(p, 'out', 'ping') > 0)
      .sort((a, b) => cmd(b, 'in', 'ping') - cmd(a, 'in', 'ping'));
    replace(
      this.ping,
      byPing.length === 0
        ? h('p', { class: 'muted' }, 'No pings yet.')
        : table(
            ['peer', 'ping in', 'pong out', 'ping out', 'pong in', 'last ms', 'min ms'],
            byPing
              .slice(0, ROWS)
              .map((p) => [
                peerCell(p),
                cmd(p, 'in', 'ping'),
                cmd(p, 'out', 'pong'),
                cmd(p, 'out', 'ping'),
                cmd(p, 'in', 'pong'),
                ms(p.pingMs),
                ms(p.minPingMs),
              ]),
            'num-table',
          ),
      more(byPing.length),
    );

    const byTx = peers
      .filter((p) => p.relay.invTxIn + p.relay.txIn + cmd(p, 'in', 'inv') > 0)
      .sort(
        (a, b) =>
          b.relay.unsolicited + b.relay.unannounced - (a.relay.unsolicited + a.relay.unannounced) || b.relay.invTxIn - a.relay.invTxIn,
      );
    replace(
      this.tx,
      byTx.length === 0
        ? h('p', { class: 'muted' }, 'No transaction relay yet.')
        : table(
            ['peer', 'inv msgs in', 'tx announced', 'getdata tx out', 'tx in', 'unsolicited', 'unannounced'],
            byTx
              .slice(0, ROWS)
              .map((p) => [
                peerCell(p),
                cmd(p, 'in', 'inv'),
                p.relay.invTxIn,
                p.relay.getdataTxOut,
                p.relay.txIn,
                p.relay.unsolicited,
                p.relay.announcedComplete ? p.relay.unannounced : `${p.relay.unannounced}+`,
              ]),
            'num-table',
          ),
      more(byTx.length),
    );
  }
}
