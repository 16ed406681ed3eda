/**
 * Malformed-traffic bursts: protocol violations per peer and per netgroup in a
 * sliding window. Violations that honest peers cause (a BIP324 v2 peer meeting
 * our v1-only listener, timeouts, an unsolicited pong) are not counted.
 */
import { z } from 'zod';
import type { ObserverEvent, ViolationKind } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap, WindowCounter } from './state.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'malformed-burst';

const BENIGN: readonly ViolationKind[] = ['v2-transport', 'handshake-timeout', 'ping-timeout', 'unsolicited-pong'];

const params = z
  .object({
    windowMs: z.number().positive().default(60_000),
    /** Violations from one peer within the window before a warning. */
    perPeer: z.number().int().positive().default(5),
    /** Violations from one netgroup within the window before a warning; 5× that is critical. */
    perNetgroup: z.number().int().positive().default(20),
    /** Kinds not counted. */
    ignoreKinds: z.array(z.string()).default([...BENIGN]),
    maxSubjects: z.number().int().positive().default(50_000),
  })
  .strict();

interface SubjectState {
  window: WindowCounter;
  total: number;
  kinds: Record<string, number>;
}

export const malformedBurst = defineDetector({
  name: NAME,
  description: 'bursts of protocol violations per peer and per netgroup',
  params,
  create(p: z.output<typeof params>) {
    const ignore = new Set(p.ignoreKinds);
    const byPeer = new BoundedMap<string, SubjectState>(p.maxSubjects);
    const byGroup = new BoundedMap<string, SubjectState>(p.maxSubjects);
    const fresh = (): SubjectState => ({ window: new WindowCounter(p.windowMs), total: 0, kinds: {} });
    const bump = (s: SubjectState, kind: string, timeUs: number): number => {
      s.total++;
      if (Object.keys(s.kinds).length < 32 || kind in s.kinds) s.kinds[kind] = (s.kinds[kind] ?? 0) + 1;
      return s.window.add(timeUs);
    };
    return {
      name: NAME,
      eventTypes: ['violation'] as const,
      stats: () => ({ tracked: byPeer.size + byGroup.size, evicted: byPeer.evicted + byGroup.evicted }),
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'violation' || ignore.has(e.data.kind)) return [];
        const v = e.data;
        const group = groupOfRemote(v.conn.remote);
        const ip = ipOfRemote(v.conn.remote);
        const peer = byPeer.upsert(`${e.nodeId}|${v.conn.remote}`, fresh);
        const g = byGroup.upsert(group, fresh);
        const nPeer = bump(peer, v.kind, e.timeUs);
        const nGroup = bump(g, v.kind, e.timeUs);
        const sample = { kind: v.kind, action: v.action, detail: v.detail.slice(0, 200), command: v.command ?? null, peer: v.conn.remote };
        const out: Signal[] = [];
        if (nPeer >= p.perPeer) {
          out.push({
            detector: NAME,
            subject: { kind: 'peer', id: v.conn.remote },
            severity: 'warning',
            summary: `${nPeer} protocol violations from ${v.conn.remote} in ${p.windowMs / 1000}s`,
            counts: { violationsInWindow: nPeer, violations: peer.total, ...prefixed(peer.kinds) },
            sample,
            nodeId: e.nodeId,
            timeUs: e.timeUs,
            netgroup: group,
            sourceIp: ip,
          });
        }
        if (nGroup >= p.perNetgroup) {
          out.push({
            detector: NAME,
            subject: { kind: 'netgroup', id: group },
            severity: nGroup >= 5 * p.perNetgroup ? 'critical' : 'warning',
            summary: `${nGroup} protocol violations from netgroup ${group} in ${p.windowMs / 1000}s`,
            counts: { violationsInWindow: nGroup, violations: g.total, ...prefixed(g.kinds) },
            sample,
            nodeId: e.nodeId,
            timeUs: e.timeUs,
            netgroup: group,
          });
        }
        return out;
      },
    };
  },
});

function prefixed(kinds: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(kinds)) out[`kind.${k}`] = n;
  return out;
}
