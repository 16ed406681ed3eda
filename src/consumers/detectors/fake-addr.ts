/**
 * Fake-address spam, from the connectivity check's `connectivity.result`
 * events: the share of a source peer's advertised addresses that are not
 * reachable Bitcoin nodes. Many real addresses are offline at any time, so a
 * source is judged against the overall share: it is flagged when at least
 * `minTried` of its addresses were tried, its failure share is at least
 * `minFailShare` and exceeds the overall share by `margin` (once the overall
 * share rests on `minOverall` results). Addresses not tried by policy
 * (`not-tried`: private, reserved) do not count either way.
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap, pushSample } from './state.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'fake-addr';

const params = z
  .object({
    minTried: z.number().int().positive().default(20),
    minFailShare: z.number().min(0).max(1).default(0.9),
    criticalFailShare: z.number().min(0).max(1).default(0.99),
    margin: z.number().min(0).max(1).default(0.2),
    minOverall: z.number().int().positive().default(100),
    maxSources: z.number().int().positive().default(50_000),
  })
  .strict();

interface SourceState {
  tried: number;
  failed: number;
  samples: string[];
}

export const fakeAddr = defineDetector({
  name: NAME,
  description: 'source peers whose advertised addresses mostly fail the connectivity check',
  params,
  create(p: z.output<typeof params>) {
    const sources = new BoundedMap<string, SourceState>(p.maxSources);
    let tried = 0;
    let failed = 0;
    return {
      name: NAME,
      eventTypes: ['connectivity.result'] as const,
      stats: () => ({ tracked: sources.size, evicted: sources.evicted }),
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'connectivity.result' || e.data.reason === 'not-tried') return [];
        const r = e.data;
        const s = sources.upsert(`${e.nodeId}|${r.sourcePeer}`, () => ({ tried: 0, failed: 0, samples: [] }));
        s.tried++;
        tried++;
        if (!r.reachable) {
          s.failed++;
          failed++;
          pushSample(s.samples, `${r.addr} ${r.reason}`.slice(0, 120), 10);
        }
        if (s.tried < p.minTried) return [];
        const share = s.failed / s.tried;
        // The overall share without this source's own results.
        const othersTried = tried - s.tried;
        const overall = othersTried >= p.minOverall ? (failed - s.failed) / othersTried : 0;
        if (share < p.minFailShare || share < overall + p.margin) return [];
        return [
          {
            detector: NAME,
            subject: { kind: 'peer', id: r.sourcePeer },
            severity: share >= p.criticalFailShare && s.tried >= 5 * p.minTried ? 'critical' : 'warning',
            summary: `${s.failed} of ${s.tried} addresses advertised by ${r.sourcePeer} (${Math.round(share * 100)}%) are not reachable nodes (others: ${Math.round(overall * 100)}%)`,
            counts: {
              tried: s.tried,
              unreachable: s.failed,
              unreachablePercent: Math.round(share * 100),
              overallUnreachablePercent: Math.round(overall * 100),
            },
            sample: { unreachable: s.samples },
            nodeId: e.nodeId,
            timeUs: e.timeUs,
            netgroup: groupOfRemote(r.sourcePeer),
            sourceIp: ipOfRemote(r.sourcePeer),
          },
        ];
      },
    };
  },
});
