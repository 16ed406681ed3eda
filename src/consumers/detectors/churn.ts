/**
 * Connection churn and sudden inbound drops, per observer.
 *
 * - Churn: inbound connections opened per `bucketMs` (10 s) against an adaptive
 *   baseline (rolling median + k·MAD over `windowBuckets`, see baseline.ts),
 *   with at least `minOpens` opens in the bucket so a quiet node's noise is not
 *   an alert.
 * - Sudden drop: inbound connections open now fell by `dropShare` (50 %) or
 *   more from their peak within `dropWindowMs` (60 s), from at least
 *   `minInboundForDrop` — the node may have become unreachable. Also from the
 *   rpc source's `node.status` inbound count.
 * - Restarts are not drops. Ours: the detector starts empty, with no peak to
 *   fall from. The watched node's: its inbound count is judged from
 *   `node.status`, which carries the node's uptime; when the uptime went back
 *   (or is younger than the time since the last status), the node restarted
 *   and the peak before it is forgotten. The rpc source's own
 *   connection.closed events (a restarted node's peers all vanish from
 *   getpeerinfo) are therefore left to that path and not judged as drops.
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { RollingBaseline } from './baseline.js';
import { defineDetector, type Signal } from './types.js';
import { connectionKey } from '../../events/conn-key.js';

export const NAME = 'churn';

const params = z
  .object({
    bucketMs: z.number().positive().default(10_000),
    windowBuckets: z.number().int().positive().default(360),
    minHistory: z.number().int().positive().default(30),
    k: z.number().positive().default(6),
    minSpread: z.number().nonnegative().default(2),
    minOpens: z.number().int().positive().default(20),
    dropShare: z.number().min(0).max(1).default(0.5),
    dropWindowMs: z.number().positive().default(60_000),
    minInboundForDrop: z.number().int().positive().default(8),
    maxNodes: z.number().int().positive().default(1000),
    /** Open inbound connections tracked per observer (oldest evicted, counted: closes we never saw must not pile up). */
    maxConnections: z.number().int().positive().default(100_000),
  })
  .strict();

interface NodeState {
  opens: RollingBaseline;
  inbound: Set<string>;
  /** Recent (time, count) peaks for the drop check: at most one per second. */
  recent: { timeUs: number; count: number }[];
  coreInbound: { timeUs: number; count: number }[];
  /** The node's uptime and when it was reported (restart detection). */
  lastUptimeSec?: number;
  lastStatusUs?: number;
  /** Node restarts seen (uptime going back). */
  nodeRestarts: number;
}

export const churn = defineDetector({
  name: NAME,
  description: 'inbound connection churn beyond the adaptive baseline; sudden drops of inbound connections',
  params,
  create(p: z.output<typeof params>) {
    const nodes = new Map<string, NodeState>();
    let evicted = 0;
    const state = (nodeId: string): NodeState => {
      let s = nodes.get(nodeId);
      if (!s) {
        if (nodes.size >= p.maxNodes) {
          nodes.delete(nodes.keys().next().value!);
          evicted++;
        }
        s = { opens: new RollingBaseline(p), inbound: new Set(), recent: [], coreInbound: [], nodeRestarts: 0 };
        nodes.set(nodeId, s);
      }
      return s;
    };

    const churnSignals = (nodeId: string, s: NodeState, timeUs: number, verdicts: ReturnType<RollingBaseline['advance']>): Signal[] =>
      verdicts
        .filter((v) => v.anomalous && v.value >= p.minOpens)
        .map((v) => ({
          detector: NAME,
          subject: { kind: 'node' as const, id: nodeId },
          severity: 'warning' as const,
          summary: `inbound churn: ${v.value} connections opened in ${p.bucketMs / 1000}s (baseline median ${v.median}, threshold ${v.threshold.toFixed(1)})`,
          counts: {
            opensInBucket: v.value,
            baselineMedian: v.median,
            baselineMad: v.mad,
            threshold: Math.round(v.threshold * 10) / 10,
            inbound: s.inbound.size,
          },
          nodeId,
          timeUs,
        }));

    const dropSignal = (
      nodeId: string,
      series: { timeUs: number; count: number }[],
      now: number,
      timeUs: number,
      what: string,
    ): Signal[] => {
      const cutoff = timeUs - p.dropWindowMs * 1000;
      while (series.length && series[0]!.timeUs < cutoff) series.shift();
      const peak = series.reduce((m, x) => Math.max(m, x.count), 0);
      const last = series[series.length - 1];
      if (!last || last.timeUs < timeUs - 1_000_000) series.push({ timeUs, count: now });
      else last.count = Math.max(last.count, now);
      if (series.length > 120) series.shift();
      if (peak < p.minInboundForDrop || now > peak * (1 - p.dropShare)) return [];
      return [
        {
          detector: NAME,
          subject: { kind: 'node', id: nodeId },
          severity: now === 0 ? 'critical' : 'warning',
          summary: `${what} inbound connections fell from ${peak} to ${now} within ${p.dropWindowMs / 1000}s: is the node still reachable?`,
          counts: { inboundPeak: peak, inboundNow: now },
          nodeId,
          timeUs,
        },
      ];
    };

    return {
      name: NAME,
      eventTypes: ['connection.opened', 'connection.closed', 'node.status'] as const,
      stats: () => {
        let tracked = 0;
        for (const s of nodes.values()) tracked += s.inbound.size;
        return { tracked, evicted };
      },
      tick(nowUs: number) {
        const out: Signal[] = [];
        for (const [nodeId, s] of nodes) out.push(...churnSignals(nodeId, s, nowUs, s.opens.advance(nowUs)));
        return out;
      },
      observe(e: ObserverEvent): Signal[] {
        if (e.type === 'node.status') {
          const c = e.data.connections;
          const s = state(e.nodeId);
          const up = e.data.uptimeSec;
          if (up !== null) {
            // Restarted since the last status: uptime went back, or is shorter than the time since that status.
            const restarted =
              s.lastUptimeSec !== undefined &&
              s.lastStatusUs !== undefined &&
              (up < s.lastUptimeSec || up * 1e6 < e.timeUs - s.lastStatusUs);
            s.lastUptimeSec = up;
            s.lastStatusUs = e.timeUs;
            if (restarted) {
              s.nodeRestarts++;
              s.coreInbound.length = 0;
            }
          }
          if (!c) return [];
          return dropSignal(e.nodeId, s.coreInbound, c.inbound, e.timeUs, "the watched node's");
        }
        if (e.type !== 'connection.opened' && e.type !== 'connection.closed') return [];
        if (e.data.conn.direction !== 'inbound') return [];
        const s = state(e.nodeId);
        const key = connectionKey(e, e.data.conn.id);
        if (e.type === 'connection.opened') {
          if (!s.inbound.has(key) && s.inbound.size >= p.maxConnections) {
            s.inbound.delete(s.inbound.values().next().value!);
            evicted++;
          }
          s.inbound.add(key);
          const verdicts = s.opens.add(e.timeUs);
          dropSignal(e.nodeId, s.recent, s.inbound.size, e.timeUs, '');
          return churnSignals(e.nodeId, s, e.timeUs, verdicts);
        }
        if (!s.inbound.delete(key)) return [];
        // A node shutting down closes everything: not a drop worth an alert. The rpc source's closes are judged
        // through node.status, which knows the node's restarts (above).
        if (e.data.reason === 'shutdown') return [];
        if (e.source === 'rpc') return churnSignals(e.nodeId, s, e.timeUs, s.opens.advance(e.timeUs));
        return [
          ...churnSignals(e.nodeId, s, e.timeUs, s.opens.advance(e.timeUs)),
          ...dropSignal(e.nodeId, s.recent, s.inbound.size, e.timeUs, 'our'),
        ];
      },
    };
  },
});
