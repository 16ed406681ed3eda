/**
 * Inbound slots under pressure: connections the observer refused at its limits
 * (`connection.closed` reason `limit`) or evicted to make room (reason
 * `evicted`, with `evictedFor` from the p2p source; docs/connections.md), per
 * observer and per netgroup (IPv4 /16, IPv6 /32; loopback and private IPv4 by
 * /16, as inbound-flood groups them), counted in a sliding window.
 *
 * Eviction keeps the slots usable during a takeover attempt, so the open
 * connections alone (inbound-flood) may look ordinary while an attacker keeps
 * knocking: this is the signal that someone is. `minPerGroup` refusals and
 * evictions from one netgroup within `windowMs` is a warning about that
 * netgroup (critical from `criticalPerGroup`); `minPerNode` from everywhere is a
 * warning about the observer (an attacker spread over many netgroups).
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { groupOfRemote } from '../../net/remote.js';
import { BoundedMap, WindowCounter } from './state.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'slot-pressure';

const params = z
  .object({
    windowMs: z.number().positive().default(60_000),
    minPerGroup: z.number().int().positive().default(20),
    criticalPerGroup: z.number().int().positive().default(100),
    minPerNode: z.number().int().positive().default(100),
    /** Netgroups tracked per observer (least recently seen evicted, counted). */
    maxGroups: z.number().int().positive().default(10_000),
    maxNodes: z.number().int().positive().default(1000),
  })
  .strict();

interface Counts {
  all: WindowCounter;
  refused: WindowCounter;
  evictedFull: WindowCounter;
  evictedHandshake: WindowCounter;
}

interface NodeState {
  node: Counts;
  groups: BoundedMap<string, Counts>;
}

export const slotPressure = defineDetector({
  name: NAME,
  description: 'inbound connections refused at the limits or evicted, per netgroup and per observer: someone is trying to take the slots',
  params,
  create(p: z.output<typeof params>) {
    const nodes = new Map<string, NodeState>();
    let evicted = 0;
    const counts = (): Counts => ({
      all: new WindowCounter(p.windowMs),
      refused: new WindowCounter(p.windowMs),
      evictedFull: new WindowCounter(p.windowMs),
      evictedHandshake: new WindowCounter(p.windowMs),
    });
    const state = (nodeId: string): NodeState => {
      let s = nodes.get(nodeId);
      if (!s) {
        if (nodes.size >= p.maxNodes) {
          const [oldId, old] = nodes.entries().next().value as [string, NodeState];
          nodes.delete(oldId);
          evicted += old.groups.size;
        }
        s = { node: counts(), groups: new BoundedMap(p.maxGroups, () => evicted++) };
        nodes.set(nodeId, s);
      }
      return s;
    };
    const snapshot = (c: Counts, t: number) => ({
      refusedAndEvicted: c.all.value(t),
      refused: c.refused.value(t),
      evictedInboundFull: c.evictedFull.value(t),
      evictedHandshakeSlots: c.evictedHandshake.value(t),
    });

    return {
      name: NAME,
      eventTypes: ['connection.closed'] as const,
      stats: () => {
        let tracked = 0;
        for (const s of nodes.values()) tracked += s.groups.size;
        return { tracked, evicted };
      },
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'connection.closed' || e.data.conn.direction !== 'inbound') return [];
        const d = e.data;
        // Core's own evictions (usdt) are counted too: they are the same pressure on the watched node.
        if (d.reason !== 'limit' && d.reason !== 'evicted') return [];
        const t = e.timeUs;
        const s = state(e.nodeId);
        const group = groupOfRemote(d.conn.remote, d.netgroup);
        const g = s.groups.upsert(group, counts);
        for (const c of [s.node, g]) {
          c.all.add(t);
          if (d.reason === 'limit') c.refused.add(t);
          else if (d.evictedFor === 'handshake-slots') c.evictedHandshake.add(t);
          else c.evictedFull.add(t);
        }
        const out: Signal[] = [];
        const inGroup = g.all.value(t);
        if (inGroup >= p.minPerGroup) {
          out.push({
            detector: NAME,
            subject: { kind: 'netgroup', id: group },
            severity: inGroup >= p.criticalPerGroup ? 'critical' : 'warning',
            summary: `${inGroup} inbound connections from netgroup ${group} refused or evicted within ${p.windowMs / 1000}s`,
            counts: snapshot(g, t),
            sample: { peer: d.conn.remote, reason: d.reason, detail: d.detail.slice(0, 200) },
            nodeId: e.nodeId,
            timeUs: t,
            netgroup: group,
          });
        }
        const inNode = s.node.all.value(t);
        if (inNode >= p.minPerNode) {
          out.push({
            detector: NAME,
            subject: { kind: 'node', id: e.nodeId },
            severity: 'warning',
            summary: `inbound slots under pressure: ${inNode} connections refused or evicted within ${p.windowMs / 1000}s`,
            counts: { ...snapshot(s.node, t), netgroups: s.groups.size },
            nodeId: e.nodeId,
            timeUs: t,
          });
        }
        return out;
      },
    };
  },
});
