/**
 * Spy / LinkingLion-like behaviour. LinkingLion (AS54098) was seen opening
 * many short connections from a few /24s, never completing the handshake,
 * sending nonce 0 and a stale start height, and rotating fake user agents.
 *
 * Per /24 (IPv6: /48) within `windowMs`, indicators:
 * - connections closed before verack within `shortMs`;
 * - version messages with nonce 0;
 * - start heights more than `lagBlocks` behind the best height peers report;
 * - distinct user agents;
 * - connections opened.
 * A /24 with `minIndicators` indicators over their thresholds is a warning.
 * Any connection from a watch-listed range (default: the published LinkingLion
 * ranges) is a warning by itself, subject the range's label (e.g. AS54098).
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { CidrList, ipOfRemote, slash24OfRemote } from '../../net/remote.js';
import { BoundedMap, CappedSet, WindowCounter, pushSample } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { LINKINGLION_RANGES } from '../../net/known-ranges.js';

export const NAME = 'spy';

const params = z
  .object({
    windowMs: z
      .number()
      .positive()
      .default(10 * 60_000),
    shortMs: z.number().positive().default(5_000),
    minShortNoVerack: z.number().int().positive().default(5),
    minNonceZero: z.number().int().positive().default(3),
    lagBlocks: z.number().int().positive().default(1000),
    minLagging: z.number().int().positive().default(3),
    minUserAgents: z.number().int().positive().default(4),
    minConnections: z.number().int().positive().default(20),
    /** Indicators over threshold needed for a warning (2 of the 5). */
    minIndicators: z.number().int().positive().default(2),
    /** IP ranges to flag on sight; label: an ASN (`AS54098`) or a name. */
    watchlist: z.array(z.object({ cidr: z.string(), label: z.string().min(1).max(64) }).strict()).default(LINKINGLION_RANGES),
    maxGroups: z.number().int().positive().default(20_000),
  })
  .strict();

interface GroupState {
  opened: WindowCounter;
  shortNoVerack: WindowCounter;
  nonceZero: WindowCounter;
  lagging: WindowCounter;
  agents: CappedSet<string>;
  agentsSinceUs: number;
  samples: string[];
}

export const spy = defineDetector({
  name: NAME,
  description:
    'LinkingLion-like spies: short connections without verack, nonce 0, lagging heights, rotating user agents, watch-listed ranges',
  params,
  create(p: z.output<typeof params>) {
    const watch = new CidrList(p.watchlist.map((w) => ({ cidr: w.cidr, label: w.label })));
    const groups = new BoundedMap<string, GroupState>(p.maxGroups);
    let bestHeight = 0;
    const fresh = (timeUs: number): GroupState => ({
      opened: new WindowCounter(p.windowMs),
      shortNoVerack: new WindowCounter(p.windowMs),
      nonceZero: new WindowCounter(p.windowMs),
      lagging: new WindowCounter(p.windowMs),
      agents: new CappedSet<string>(64),
      agentsSinceUs: timeUs,
      samples: [],
    });

    const judge = (e: ObserverEvent, group: string, g: GroupState, remote: string): Signal[] => {
      const t = e.timeUs;
      if (t - g.agentsSinceUs > p.windowMs * 1000) {
        g.agents = new CappedSet<string>(64);
        g.agentsSinceUs = t;
      }
      const connections = g.opened.value(t);
      const shortNoVerack = g.shortNoVerack.value(t);
      const nonceZero = g.nonceZero.value(t);
      const laggingStartHeight = g.lagging.value(t);
      const userAgents = g.agents.size;
      // Count first: most groups are one honest connection, and need no strings.
      const indicators =
        +(shortNoVerack >= p.minShortNoVerack) +
        +(nonceZero >= p.minNonceZero) +
        +(laggingStartHeight >= p.minLagging) +
        +(userAgents >= p.minUserAgents) +
        +(connections >= p.minConnections);
      if (indicators < p.minIndicators) return [];
      const hits: string[] = [];
      if (shortNoVerack >= p.minShortNoVerack) hits.push(`${shortNoVerack} short connections without verack`);
      if (nonceZero >= p.minNonceZero) hits.push(`${nonceZero} versions with nonce 0`);
      if (laggingStartHeight >= p.minLagging) hits.push(`${laggingStartHeight} lagging start heights`);
      if (userAgents >= p.minUserAgents) hits.push(`${userAgents} user agents`);
      if (connections >= p.minConnections) hits.push(`${connections} connections`);
      return [
        {
          detector: NAME,
          subject: { kind: 'netgroup', id: group },
          severity: hits.length >= 4 ? 'critical' : 'warning',
          summary: `spy-like behaviour from ${group}: ${hits.join(', ')}`,
          counts: { connections, shortNoVerack, nonceZero, laggingStartHeight, userAgents, indicators: hits.length },
          sample: { peer: remote, userAgents: g.agents.values().slice(0, 10), peers: [...g.samples] },
          nodeId: e.nodeId,
          timeUs: t,
          netgroup: group,
        },
      ];
    };

    return {
      name: NAME,
      eventTypes: ['connection.opened', 'connection.closed', 'handshake.version'] as const,
      stats: () => ({ tracked: groups.size, evicted: groups.evicted }),
      tick(nowUs: number) {
        groups.sweep(
          (g) => g.opened.value(nowUs) === 0 && g.shortNoVerack.value(nowUs) === 0 && nowUs - g.agentsSinceUs > p.windowMs * 1000,
        );
        return [];
      },
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'connection.opened' && e.type !== 'connection.closed' && e.type !== 'handshake.version') return [];
        const remote = e.data.conn.remote;
        const group = slash24OfRemote(remote);
        if (!group) return [];
        const g = groups.upsert(group, () => fresh(e.timeUs));
        const out: Signal[] = [];
        switch (e.type) {
          case 'connection.opened': {
            g.opened.add(e.timeUs);
            pushSample(g.samples, remote, 10);
            const listed = watch.match(ipOfRemote(remote));
            if (listed) {
              out.push({
                detector: NAME,
                subject: /^AS\d+$/i.test(listed.label)
                  ? { kind: 'asn', id: listed.label.toUpperCase() }
                  : { kind: 'netgroup', id: listed.cidr },
                severity: 'warning',
                summary: `connection from watch-listed ${listed.label} range ${listed.cidr}: ${remote}`,
                counts: { connections: g.opened.value(e.timeUs) },
                sample: { peer: remote, direction: e.data.conn.direction, range: listed.cidr, label: listed.label },
                nodeId: e.nodeId,
                timeUs: e.timeUs,
                netgroup: group,
                sourceIp: ipOfRemote(remote),
              });
            }
            break;
          }
          case 'connection.closed':
            if (
              !e.data.handshakeComplete &&
              e.data.durationMs <= p.shortMs &&
              e.data.reason !== 'connect-failed' &&
              e.data.reason !== 'limit'
            ) {
              g.shortNoVerack.add(e.timeUs);
            }
            break;
          case 'handshake.version': {
            const v = e.data;
            if (v.nonce === '0') g.nonceZero.add(e.timeUs);
            g.agents.add(v.userAgent.slice(0, 256));
            if (v.startHeight !== null && v.startHeight >= 0) {
              if (v.startHeight > bestHeight) bestHeight = v.startHeight;
              else if (bestHeight - v.startHeight > p.lagBlocks) g.lagging.add(e.timeUs);
            }
            break;
          }
        }
        const judged = judge(e, group, g, remote);
        if (out.length === 0) return judged;
        for (const x of judged) out.push(x);
        return out;
      },
    };
  },
});
