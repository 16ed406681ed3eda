/**
 * Metrics from the content of P2P messages, past the basic counts: traffic of
 * peers on IP lists (LinkingLion by default, Tor exits and user lists when
 * given), addr entries where a peer announces itself or its own /16 (/32),
 * inv messages mixing inventory types or not, outbound invs over Core's 35
 * transaction announcements, pings without a nonce (pre-BIP31, by netgroup),
 * feefilter rates, and reject messages by code. Part of ObserverMetrics.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ObserverEvent } from '../../events/types.js';
import { summaryOf } from '../../events/message-summary.js';
import { CidrList, ipOfRemote, netgroupOfRemote } from '../../net/remote.js';
import { LINKINGLION_RANGES } from '../../net/known-ranges.js';
import { AdmittedLabels, OTHER, commandLabel } from './labels.js';
import { connectionKey } from '../../events/conn-key.js';

/** A named IP list: its label value and the CIDRs (or single IPs) on it. */
export interface IpList {
  name: string;
  cidrs: string[];
}

export const DEFAULT_IP_LISTS: readonly IpList[] = [{ name: 'linkinglion', cidrs: LINKINGLION_RANGES.map((r) => r.cidr) }];

/** Transactions Core announces to a peer per inv message at most, in the 2023 inv-to-send fix's terms (INVENTORY_BROADCAST_TARGET). */
export const LARGE_INV_TX = 35;

/** reject codes (BIP61) by name; any other code is `other`. */
const REJECT_CODES: Record<number, string> = {
  0x01: 'malformed',
  0x10: 'invalid',
  0x11: 'obsolete',
  0x12: 'duplicate',
  0x40: 'nonstandard',
  0x41: 'dust',
  0x42: 'insufficientfee',
  0x43: 'checkpoint',
};

interface ConnLists {
  lists: string[];
  ip: string;
  netgroup: string;
}

export class TrafficMetrics {
  private readonly lists: { name: string; cidrs: CidrList<string> }[];
  private readonly conns = new Map<string, ConnLists>();
  private readonly oldPingGroups = new AdmittedLabels(32);
  readonly listConns: Counter<'list' | 'direction'>;
  readonly listMessages: Counter<'list' | 'dir'>;
  readonly listBytes: Counter<'list' | 'dir'>;
  readonly selfAnnounce: Counter<'command' | 'kind'>;
  readonly invMix: Counter<'command' | 'dir' | 'mix'>;
  readonly largeInv: Counter;
  readonly oldPings: Counter<'netgroup'>;
  readonly feefilter: Histogram<'dir'>;
  readonly reject: Counter<'message' | 'code'>;

  constructor(
    registry: Registry,
    prefix: string,
    lists: readonly IpList[] = DEFAULT_IP_LISTS,
    private readonly maxConns = 200_000,
  ) {
    this.lists = lists.map((l) => ({ name: l.name.slice(0, 32), cidrs: new CidrList(l.cidrs.map((cidr) => ({ cidr, label: l.name }))) }));
    const registers = [registry];
    const state = () => ({ lists: this.lists, conns: this.conns });
    this.listConns = new Counter({
      name: prefix + 'list_connections_total',
      help: 'Connections from or to addresses on an IP list (linkinglion by default; --ip-list adds Tor exits and user lists), by direction.',
      labelNames: ['list', 'direction'],
      registers,
    });
    new Gauge({
      name: prefix + 'list_connections',
      help: 'Connections open now with peers on an IP list.',
      labelNames: ['list'],
      registers,
      collect() {
        this.reset();
        for (const l of state().lists) this.set({ list: l.name }, 0);
        for (const c of state().conns.values()) for (const list of c.lists) this.inc({ list });
      },
    });
    this.listMessages = new Counter({
      name: prefix + 'list_messages_total',
      help: 'Messages with peers on an IP list (share: divide by messages_total).',
      labelNames: ['list', 'dir'],
      registers,
    });
    this.listBytes = new Counter({
      name: prefix + 'list_message_bytes_total',
      help: 'Payload bytes with peers on an IP list (share: divide by message_bytes_total).',
      labelNames: ['list', 'dir'],
      registers,
    });
    this.selfAnnounce = new Counter({
      name: prefix + 'addr_self_announcements_total',
      help: 'Received addr/addrv2 entries naming the sending peer itself (kind=self) or another address in its netgroup (kind=subnet).',
      labelNames: ['command', 'kind'],
      registers,
    });
    this.invMix = new Counter({
      name: prefix + 'inv_messages_by_mix_total',
      help: 'inv/getdata/notfound messages whose entries are all one inventory type (homogeneous) or several (heterogeneous).',
      labelNames: ['command', 'dir', 'mix'],
      registers,
    });
    this.largeInv = new Counter({
      name: prefix + 'inv_outbound_large_total',
      help: `Outbound inv messages announcing more than ${LARGE_INV_TX} transactions (the 2023 inv-to-send DoS).`,
      registers,
    });
    this.oldPings = new Counter({
      name: prefix + 'old_pings_total',
      help: 'Received pings without a nonce (pre-BIP31, protocol < 60001), by the sender netgroup (the first 32 netgroups, then "other").',
      labelNames: ['netgroup'],
      registers,
    });
    this.feefilter = new Histogram({
      name: prefix + 'feefilter_rate_sat_per_kvb',
      help: 'feefilter rates sent and received (sat/kvB; 1000 = 1 sat/vB).',
      labelNames: ['dir'],
      buckets: [0, 100, 999, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000, 10_000_000],
      registers,
    });
    this.reject = new Counter({
      name: prefix + 'reject_messages_total',
      help: 'Received reject messages (BIP61, old peers) by the rejected command and code.',
      labelNames: ['message', 'code'],
      registers,
    });
  }

  handle(event: ObserverEvent): void {
    switch (event.type) {
      case 'connection.opened': {
        const d = event.data;
        const ip = ipOfRemote(d.conn.remote);
        const lists = this.lists.filter((l) => l.cidrs.match(ip) !== undefined).map((l) => l.name);
        for (const list of lists) this.listConns.inc({ list, direction: d.conn.direction });
        // Same cap and same events as ObserverMetrics' connection tracking: what is not kept here is counted there
        // (peer_observer_metrics_tracked_connections{state="untracked"}).
        if (this.conns.size < this.maxConns) this.conns.set(key(event), { lists, ip, netgroup: d.netgroup });
        return;
      }
      case 'connection.closed':
        this.conns.delete(key(event));
        return;
      case 'message':
        return this.message(event);
      default:
        return;
    }
  }

  private connOf(event: ObserverEvent & { type: 'message' }): ConnLists {
    const known = this.conns.get(key(event));
    if (known) return known;
    // A message on a connection we did not see open (a source met the peer mid-session): work it out, keep nothing.
    const ip = ipOfRemote(event.data.conn.remote);
    return {
      ip,
      netgroup: netgroupOfRemote(event.data.conn.remote),
      lists: this.lists.filter((l) => l.cidrs.match(ip)).map((l) => l.name),
    };
  }

  private message(event: ObserverEvent & { type: 'message' }): void {
    const d = event.data;
    const c = this.connOf(event);
    for (const list of c.lists) {
      this.listMessages.inc({ list, dir: d.dir });
      this.listBytes.inc({ list, dir: d.dir }, d.size);
    }
    const command = commandLabel(d.command);
    if (command === 'ping' && d.dir === 'in' && d.size === 0) {
      this.oldPings.inc({ netgroup: this.oldPingGroups.label(c.netgroup) });
      return;
    }
    if (!d.known) return;
    if ((d.command === 'addr' || d.command === 'addrv2') && d.dir === 'in') {
      const p = summaryOf(d);
      if (!p) return;
      let self = 0;
      let subnet = 0;
      const peerGroup = netgroupOfRemote(d.conn.remote);
      for (const e of p.entries) {
        if (e.addr === c.ip) self++;
        else if (peerGroup !== 'unknown' && netgroupOfRemote(e.addr) === peerGroup) subnet++;
      }
      if (self) this.selfAnnounce.inc({ command, kind: 'self' }, self);
      if (subnet) this.selfAnnounce.inc({ command, kind: 'subnet' }, subnet);
    } else if (d.command === 'inv' || d.command === 'getdata' || d.command === 'notfound') {
      const p = summaryOf(d);
      if (!p) return;
      const kinds = Object.values(p.types).filter((n) => n > 0).length;
      if (kinds > 0) this.invMix.inc({ command, dir: d.dir, mix: kinds === 1 ? 'homogeneous' : 'heterogeneous' });
      if (d.command === 'inv' && d.dir === 'out') {
        const txs = (p.types['tx'] ?? 0) + (p.types['wtx'] ?? 0) + (p.types['witness_tx'] ?? 0);
        if (txs > LARGE_INV_TX) this.largeInv.inc();
      }
    } else if (d.command === 'feefilter') {
      const p = summaryOf(d);
      // A negative fee rate (int64 on the wire) is not a rate: left out of the histogram.
      if (p && !p.feeRate.startsWith('-')) this.feefilter.observe({ dir: d.dir }, Number(p.feeRate));
    } else if (d.command === 'reject' && d.dir === 'in') {
      const p = summaryOf(d);
      if (p) this.reject.inc({ message: commandLabel(p.message), code: REJECT_CODES[p.code] ?? OTHER });
    }
  }
}

function key(event: ObserverEvent & { data: { conn: { id: number } } }): string {
  return connectionKey(event, event.data.conn.id);
}
