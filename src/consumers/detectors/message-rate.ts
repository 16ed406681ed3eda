/**
 * Message rates against adaptive baselines: messages received per `bucketMs`,
 * per observer and command, judged against the rolling median + k·MAD of the
 * last `windowBuckets` buckets (baseline.ts), once `minHistory` buckets exist,
 * and only from `minCount` messages in the bucket. Commands beyond
 * `maxCommands` per observer share one `other` series (bounded state whatever
 * commands peers invent).
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { RollingBaseline, type BaselineVerdict } from './baseline.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'message-rate';

const params = z
  .object({
    bucketMs: z.number().positive().default(10_000),
    windowBuckets: z.number().int().positive().default(360),
    minHistory: z.number().int().positive().default(30),
    k: z.number().positive().default(8),
    minSpread: z.number().nonnegative().default(5),
    minCount: z.number().int().positive().default(500),
    maxCommands: z.number().int().positive().default(48),
    maxNodes: z.number().int().positive().default(1000),
  })
  .strict();

export const messageRate = defineDetector({
  name: NAME,
  description: 'received messages per command beyond the adaptive baseline',
  params,
  create(p: z.output<typeof params>) {
    const nodes = new Map<string, Map<string, RollingBaseline>>();
    let evicted = 0;
    const signals = (nodeId: string, command: string, timeUs: number, verdicts: BaselineVerdict[]): Signal[] =>
      verdicts
        .filter((v) => v.anomalous && v.value >= p.minCount)
        .map((v) => ({
          detector: NAME,
          subject: { kind: 'node' as const, id: nodeId },
          severity: v.value > 4 * v.threshold ? ('critical' as const) : ('warning' as const),
          summary: `${v.value} ${command} messages in ${p.bucketMs / 1000}s (baseline median ${v.median}, threshold ${v.threshold.toFixed(1)})`,
          counts: {
            [`${command}.inBucket`]: v.value,
            [`${command}.median`]: v.median,
            [`${command}.threshold`]: Math.round(v.threshold * 10) / 10,
          },
          sample: { command, bucketMs: p.bucketMs, value: v.value, median: v.median, mad: v.mad },
          nodeId,
          timeUs,
        }));
    return {
      name: NAME,
      eventTypes: ['message'] as const,
      stats: () => {
        let tracked = 0;
        for (const m of nodes.values()) tracked += m.size;
        return { tracked, evicted };
      },
      tick(nowUs: number) {
        const out: Signal[] = [];
        for (const [nodeId, series] of nodes) for (const [cmd, b] of series) out.push(...signals(nodeId, cmd, nowUs, b.advance(nowUs)));
        return out;
      },
      observe(e: ObserverEvent): Signal[] {
        if (e.type !== 'message' || e.data.dir !== 'in') return [];
        let series = nodes.get(e.nodeId);
        if (!series) {
          if (nodes.size >= p.maxNodes) {
            nodes.delete(nodes.keys().next().value!);
            evicted++;
          }
          series = new Map();
          nodes.set(e.nodeId, series);
        }
        let command = e.data.command;
        if (!series.has(command) && series.size >= p.maxCommands - 1) command = 'other';
        let b = series.get(command);
        if (!b) {
          b = new RollingBaseline(p);
          series.set(command, b);
        }
        return signals(e.nodeId, command, e.timeUs, b.add(e.timeUs));
      },
    };
  },
});
