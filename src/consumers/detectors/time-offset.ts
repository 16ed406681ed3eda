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
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
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
  side: SideState;
}

/** Index of a value in a sorted array: where it is or would go. */
function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One observer's skewed netgroups on one side (ahead or behind): the entries in
 * the order they were last set (so the oldest expire first) and their |offsets|
 * kept sorted, so a signal costs O(log n) and a move in memory, not a pass and
 * a sort over every tracked netgroup.
 */
class SideState {
  readonly entries = new Map<string, Skewed>();
  readonly offsets: number[] = [];

  add(key: string, s: Skewed): void {
    this.entries.set(key, s);
    const abs = Math.abs(s.offsetSec);
    this.offsets.splice(lowerBound(this.offsets, abs), 0, abs);
  }

  remove(key: string): void {
    const s = this.entries.get(key);
    if (!s) return;
    this.entries.delete(key);
    this.offsets.splice(lowerBound(this.offsets, Math.abs(s.offsetSec)), 1);
  }
}

export const timeOffset = defineDetector({
  name: NAME,
  description: 'peers whose version timestamps are far from our clock, alone or together',
  params,
  create(p: z.output<typeof params>) {
    // Per observer and side: recent skewed peers by netgroup (the latest one per netgroup).
    // All of them bounded together (least recently set evicted); each also in its SideState.
    const skewed = new BoundedMap<string, Skewed>(p.maxTracked, (key, s) => s.side.remove(key));
    const sides = new Map<string, SideState>();
    const sideOf = (nodeSide: string): SideState => {
      let s = sides.get(nodeSide);
      if (!s) {
        s = new SideState();
        sides.set(nodeSide, s);
      }
      return s;
    };
    return {
      name: NAME,
      eventTypes: ['handshake.version'] as const,
      stats: () => ({ tracked: skewed.size, evicted: skewed.evicted }),
      tick(nowUs: number) {
        skewed.sweep((s, key) => {
          if (nowUs - s.timeUs <= p.windowMs * 1000) return false;
          s.side.remove(key);
          return true;
        });
        for (const [k, side] of sides) if (side.entries.size === 0) sides.delete(k);
        return [];
      },
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'handshake.version') return [];
        const v = e.data;
        const off = v.timeOffsetSec;
        // Honest clocks (nearly every peer): nothing to parse or build.
        if (Math.abs(off) <= p.peerLimitSec && Math.abs(off) <= p.groupLimitSec) return [];
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
          const key = `${e.nodeId}|${side}|${group}`;
          const state = sideOf(`${e.nodeId}|${side}`);
          state.remove(key);
          const entry: Skewed = { remote: v.conn.remote, offsetSec: off, timeUs: e.timeUs, side: state };
          skewed.set(key, entry);
          state.add(key, entry);
          // Expire this side's entries that left the window, oldest first (the tick sweeps the rest).
          const cutoff = e.timeUs - p.windowMs * 1000;
          for (const [k, old] of state.entries) {
            if (old.timeUs >= cutoff) break;
            skewed.delete(k);
            state.remove(k);
          }
          const same = state.entries;
          if (same.size >= p.minPeers) {
            const offsets = state.offsets;
            out.push({
              detector: NAME,
              subject: { kind: 'node', id: e.nodeId },
              severity: same.size >= p.criticalPeers ? 'critical' : 'warning',
              summary: `${same.size} peers from distinct netgroups claim clocks more than ${p.groupLimitSec / 60} min ${side} of ours`,
              counts: { skewedNetgroups: same.size, medianOffsetSec: offsets[offsets.length >> 1]! },
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
