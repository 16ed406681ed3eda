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
import { CidrList, groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { LINKINGLION_RANGES } from '../../net/known-ranges.js';
import { connectionKey } from '../../events/conn-key.js';

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
    /** Observers tracked at once (oldest evicted). */
    maxNodes: z.number().int().positive().default(1000),
  })
  .strict();

/** Open connections of one group; `seq` orders groups as a Map's insertion would. */
interface GroupCount {
  n: number;
  seq: number;
}

/**
 * Open inbound connections per group (netgroup or ASN), with what the checks
 * need kept up to date as connections come and go, so an open costs O(1) plus
 * the groups over `maxPerGroup`, not a pass over every group:
 * - `hot`: the groups holding more than `maxPerGroup`;
 * - `sumSq`: Σ n² (the effective number of groups is total² / Σ n²).
 */
class GroupCounts {
  readonly counts = new Map<string, GroupCount>();
  readonly hot = new Set<string>();
  sumSq = 0;
  private seq = 0;

  constructor(private readonly maxPerGroup: number) {}

  get size(): number {
    return this.counts.size;
  }

  inc(k: string): void {
    let c = this.counts.get(k);
    if (!c) {
      c = { n: 0, seq: this.seq++ };
      this.counts.set(k, c);
    }
    this.sumSq += 2 * c.n + 1;
    c.n++;
    if (c.n > this.maxPerGroup) this.hot.add(k);
  }

  dec(k: string): void {
    const c = this.counts.get(k);
    if (!c) return;
    this.sumSq -= 2 * c.n - 1;
    c.n--;
    if (c.n <= this.maxPerGroup) this.hot.delete(k);
    if (c.n <= 0) this.counts.delete(k);
  }

  /**
   * The groups that may hold `minShare` of `total` or more than `maxPerGroup`,
   * in the order the counts map holds them (as a scan of every group would).
   */
  candidates(total: number, minShare: number): [string, number][] {
    if (minShare * total <= this.maxPerGroup) {
      // Few connections: a group may pass the share without being hot; they are few, scan them.
      const all: [string, number][] = [];
      for (const [k, c] of this.counts) all.push([k, c.n]);
      return all;
    }
    // Any group with n ≥ minShare·total > maxPerGroup is hot.
    const hot: [string, GroupCount][] = [];
    for (const k of this.hot) hot.push([k, this.counts.get(k)!]);
    if (hot.length > 1) hot.sort((a, b) => a[1].seq - b[1].seq);
    return hot.map(([k, c]) => [k, c.n]);
  }
}

interface NodeState {
  conns: BoundedMap<string, { group: string; asn: string | null; remote: string }>;
  byGroup: GroupCounts;
  byAsn: GroupCounts;
}

export const inboundFlood = defineDetector({
  name: NAME,
  description: 'inbound connections concentrated in one netgroup or ASN; netgroup diversity falling',
  params,
  create(p: z.output<typeof params>) {
    const asns = new CidrList(p.asnMap.map((a) => ({ cidr: a.cidr, label: a.asn.toUpperCase() })));
    const nodes = new Map<string, NodeState>();
    let evicted = 0;
    const nodeState = (nodeId: string): NodeState => {
      let s = nodes.get(nodeId);
      if (!s) {
        if (nodes.size >= p.maxNodes) {
          const [oldId, old] = nodes.entries().next().value as [string, NodeState];
          nodes.delete(oldId);
          evicted += old.conns.size;
        }
        s = { conns: new BoundedMap(p.maxConnections), byGroup: new GroupCounts(p.maxPerGroup), byAsn: new GroupCounts(p.maxPerGroup) };
        nodes.set(nodeId, s);
      }
      return s;
    };

    const judge = (nodeId: string, s: NodeState, timeUs: number, remote: string): Signal[] => {
      const total = s.conns.size;
      if (total < p.minInbound) return [];
      const out: Signal[] = [];
      const check = (kind: 'netgroup' | 'asn', counts: GroupCounts) => {
        for (const [id, n] of counts.candidates(total, p.maxShare)) {
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
      const effective = (total * total) / s.byGroup.sumSq;
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
        const key = connectionKey(e, e.data.conn.id);
        if (e.type === 'connection.closed') {
          const c = s.conns.peek(key);
          if (c) {
            s.conns.delete(key);
            s.byGroup.dec(c.group);
            if (c.asn) s.byAsn.dec(c.asn);
          }
          return [];
        }
        const remote = e.data.conn.remote;
        const group = groupOfRemote(remote, e.data.netgroup);
        const asn = asns.match(ipOfRemote(remote))?.label ?? null;
        if (s.conns.size >= s.conns.maxSize) {
          // Make room ourselves so the per-group counts stay exact.
          const [oldKey, old] = s.conns.oldest()!;
          s.conns.delete(oldKey);
          s.byGroup.dec(old.group);
          if (old.asn) s.byAsn.dec(old.asn);
          evicted++;
        }
        s.conns.set(key, { group, asn, remote });
        s.byGroup.inc(group);
        if (asn) s.byAsn.inc(asn);
        return judge(e.nodeId, s, e.timeUs, remote);
      },
    };
  },
});
