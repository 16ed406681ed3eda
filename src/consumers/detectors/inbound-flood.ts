/**
 * Inbound flooder / eclipse attempt: the inbound connections open right now,
 * per observer, grouped by netgroup (IPv4 /16, IPv6 /32; loopback and private
 * IPv4 by /16, see groupOfRemote) and by ASN where a user-supplied IP→ASN
 * list knows the address. A group holding `maxShare` of at least `minInbound`
 * inbound connections, or more than `maxPerGroup` of them, is a warning (critical
 * from `criticalShare`); the effective number of groups (1/Σ share²) falling
 * below `minEffectiveGroups` is a warning about the node (diversity falling).
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { CidrList, groupOfRemote, ipOfRemote } from './net.js';
import { BoundedMap } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { LINKINGLION_RANGES } from './spy.js';

export const NAME = 'inbound-flood';

const params = z
  .object({
    minInbound: z.number().int().positive().default(10),
    maxShare: z.number().min(0).max(1).default(0.5),
    criticalShare: z.number().min(0).max(1).default(0.8),
    maxPerGroup: z.number().int().positive().default(32),
    minEffectiveGroups: z.number().positive().default(2),
    /** IP ranges → ASN (`AS54098`), for grouping by ASN; default: the LinkingLion ranges. */
    asnMap: z
      .array(z.object({ cidr: z.string(), asn: z.string().regex(/^AS\d+$/i) }).strict())
      .default(LINKINGLION_RANGES.map((r) => ({ cidr: r.cidr, asn: r.label }))),
    /** Inbound connections tracked per observer (oldest evicted). */
    maxConnections: z.number().int().positive().default(100_000),
  })
  .strict();

interface NodeState {
  conns: BoundedMap<string, { group: string; asn: string | null; remote: string }>;
  byGroup: Map<string, number>;
  byAsn: Map<string, number>;
}

export const inboundFlood = defineDetector({
  name: NAME,
  description: 'inbound connections concentrated in one netgroup or ASN; netgroup diversity falling',
  params,
  create(p: z.output<typeof params>) {
    const asns = new CidrList(p.asnMap.map((a) => ({ cidr: a.cidr, label: a.asn.toUpperCase() })));
    const nodes = new Map<string, NodeState>();
    const dec = (m: Map<string, number>, k: string) => {
      const n = (m.get(k) ?? 0) - 1;
      if (n <= 0) m.delete(k);
      else m.set(k, n);
    };
    const nodeState = (nodeId: string): NodeState => {
      let s = nodes.get(nodeId);
      if (!s) {
        s = { conns: new BoundedMap(p.maxConnections), byGroup: new Map(), byAsn: new Map() };
        nodes.set(nodeId, s);
      }
      return s;
    };
    let evicted = 0;

    const judge = (nodeId: string, s: NodeState, timeUs: number, remote: string): Signal[] => {
      const total = s.conns.size;
      if (total < p.minInbound) return [];
      const out: Signal[] = [];
      const check = (kind: 'netgroup' | 'asn', counts: Map<string, number>) => {
        for (const [id, n] of counts) {
          const share = n / total;
          if (share < p.maxShare && n <= p.maxPerGroup) continue;
          out.push({
            detector: NAME,
            subject: { kind, id },
            severity: share >= p.criticalShare ? 'critical' : 'warning',
            summary: `${n} of ${total} inbound connections (${Math.round(share * 100)}%) from ${kind} ${id}`,
            counts: { inbound: total, fromSubject: n, sharePercent: Math.round(share * 100), groups: s.byGroup.size },
            sample: { peer: remote },
            nodeId,
            timeUs,
            ...(kind === 'netgroup' ? { netgroup: id } : {}),
          });
        }
      };
      check('netgroup', s.byGroup);
      check('asn', s.byAsn);
      let sumSq = 0;
      for (const n of s.byGroup.values()) sumSq += (n / total) ** 2;
      const effective = 1 / sumSq;
      if (effective < p.minEffectiveGroups) {
        out.push({
          detector: NAME,
          subject: { kind: 'node', id: nodeId },
          severity: 'warning',
          summary: `inbound netgroup diversity fell: ${total} inbound connections in effectively ${effective.toFixed(1)} netgroups`,
          counts: { inbound: total, groups: s.byGroup.size, effectiveGroupsX10: Math.round(effective * 10) },
          nodeId,
          timeUs,
        });
      }
      return out;
    };

    return {
      name: NAME,
      eventTypes: ['connection.opened', 'connection.closed'] as const,
      stats: () => {
        let tracked = 0;
        for (const s of nodes.values()) tracked += s.conns.size;
        return { tracked, evicted };
      },
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'connection.opened' && e.type !== 'connection.closed') return [];
        if (e.data.conn.direction !== 'inbound') return [];
        const s = nodeState(e.nodeId);
        const key = `${e.source}|${e.data.conn.id}`;
        if (e.type === 'connection.closed') {
          const c = s.conns.peek(key);
          if (c) {
            s.conns.delete(key);
            dec(s.byGroup, c.group);
            if (c.asn) dec(s.byAsn, c.asn);
          }
          return [];
        }
        const remote = e.data.conn.remote;
        const group = groupOfRemote(remote, e.data.netgroup);
        const asn = asns.match(ipOfRemote(remote))?.label ?? null;
        if (s.conns.size >= s.conns.maxSize) {
          // Make room ourselves so the per-group counts stay exact.
          const [oldKey, old] = s.conns.entries().next().value as [string, { group: string; asn: string | null }];
          s.conns.delete(oldKey);
          dec(s.byGroup, old.group);
          if (old.asn) dec(s.byAsn, old.asn);
          evicted++;
        }
        s.conns.set(key, { group, asn, remote });
        s.byGroup.set(group, (s.byGroup.get(group) ?? 0) + 1);
        if (asn) s.byAsn.set(asn, (s.byAsn.get(asn) ?? 0) + 1);
        return judge(e.nodeId, s, e.timeUs, remote);
      },
    };
  },
});
