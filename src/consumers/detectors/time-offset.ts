/**
 * Time-offset manipulation, from the peers' version timestamps.
 *
 * Bitcoin Core facts this follows: before v27 Core adjusted its clock by the
 * median offset of its peers but ignored offsets beyond ±70 minutes
 * (DEFAULT_MAX_TIME_ADJUSTMENT); since v27 it no longer adjusts and warns when
 * the median offset of its outbound peers exceeds 10 minutes (TimeOffsets
 * WARN_THRESHOLD). Hence two signals:
 * - one peer beyond ±`peerLimitSec` (70 min): that peer's clock is far off or
 *   it is probing (info; honest machines with broken clocks exist);
 * - several peers from distinct netgroups beyond ±`groupLimitSec` (10 min) on
 *   the same side within `windowMs`: an attempt to move what Core would see as
 *   network time (warning, critical from `criticalPeers`).
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from './net.js';
import { BoundedMap } from './state.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'time-offset';

const params = z
  .object({
    peerLimitSec: z
      .number()
      .positive()
      .default(70 * 60),
    groupLimitSec: z
      .number()
      .positive()
      .default(10 * 60),
    /** Distinct netgroups skewed the same way within the window before a warning. */
    minPeers: z.number().int().positive().default(3),
    criticalPeers: z.number().int().positive().default(8),
    windowMs: z
      .number()
      .positive()
      .default(30 * 60_000),
    maxTracked: z.number().int().positive().default(10_000),
  })
  .strict();

interface Skewed {
  remote: string;
  offsetSec: number;
  timeUs: number;
}

export const timeOffset = defineDetector({
  name: NAME,
  description: 'peers whose version timestamps are far from our clock, alone or together',
  params,
  create(p: z.output<typeof params>) {
    // Per observer and side: recent skewed peers by netgroup (the latest one per netgroup).
    const skewed = new BoundedMap<string, Skewed>(p.maxTracked);
    return {
      name: NAME,
      eventTypes: ['handshake.version'] as const,
      stats: () => ({ tracked: skewed.size, evicted: skewed.evicted }),
      tick(nowUs: number) {
        skewed.sweep((s) => nowUs - s.timeUs > p.windowMs * 1000);
        return [];
      },
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'handshake.version') return [];
        const v = e.data;
        const off = v.timeOffsetSec;
        const out: Signal[] = [];
        const group = groupOfRemote(v.conn.remote);
        const sample = { remote: v.conn.remote, timeOffsetSec: off, userAgent: v.userAgent.slice(0, 100), version: v.version };
        if (Math.abs(off) > p.peerLimitSec) {
          out.push({
            detector: NAME,
            subject: { kind: 'peer', id: v.conn.remote },
            severity: 'info',
            summary: `${v.conn.remote} claims a clock ${Math.round(off / 60)} min from ours (beyond ±${p.peerLimitSec / 60} min)`,
            counts: { timeOffsetSec: Math.abs(off) },
            sample,
            nodeId: e.nodeId,
            timeUs: e.timeUs,
            netgroup: group,
            sourceIp: ipOfRemote(v.conn.remote),
          });
        }
        if (Math.abs(off) > p.groupLimitSec) {
          const side = off > 0 ? 'ahead' : 'behind';
          skewed.set(`${e.nodeId}|${side}|${group}`, { remote: v.conn.remote, offsetSec: off, timeUs: e.timeUs });
          const cutoff = e.timeUs - p.windowMs * 1000;
          const same = [...skewed.entries()].filter(([k, s]) => k.startsWith(`${e.nodeId}|${side}|`) && s.timeUs >= cutoff);
          if (same.length >= p.minPeers) {
            const offsets = same.map(([, s]) => Math.abs(s.offsetSec)).sort((a, b) => a - b);
            out.push({
              detector: NAME,
              subject: { kind: 'node', id: e.nodeId },
              severity: same.length >= p.criticalPeers ? 'critical' : 'warning',
              summary: `${same.length} peers from distinct netgroups claim clocks more than ${p.groupLimitSec / 60} min ${side} of ours`,
              counts: { skewedNetgroups: same.length, medianOffsetSec: offsets[offsets.length >> 1]! },
              sample,
              nodeId: e.nodeId,
              timeUs: e.timeUs,
            });
          }
        }
        return out;
      },
    };
  },
});
