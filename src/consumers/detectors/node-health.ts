/**
 * Health of a watched Bitcoin Core node (rpc and log sources):
 * - peers: connections falling to 0 after having had some (critical);
 * - stalled download: headers ahead of blocks by `stallGapBlocks` and blocks not
 *   advancing for `stallMs`;
 * - invalid chain tips appearing (mutated or invalid blocks);
 * - mempool rejections: more than `maxRejections` within `windowMs`;
 * - the node's RPC unreachable (rpc.status not up, from the rpc source or the
 *   --mimic backend): critical, signalled again every tick while it lasts, so
 *   the alert stays raised until the node answers and resolves after that.
 */
import { z } from 'zod';
import type { ObserverEvent } from '../../events/types.js';
import { WindowCounter } from './state.js';
import { defineDetector, type Signal } from './types.js';

export const NAME = 'node-health';

const params = z
  .object({
    stallGapBlocks: z.number().int().positive().default(2),
    stallMs: z
      .number()
      .positive()
      .default(20 * 60_000),
    maxRejections: z.number().int().positive().default(200),
    windowMs: z.number().positive().default(60_000),
    maxNodes: z.number().int().positive().default(1000),
  })
  .strict();

interface NodeState {
  hadPeers: boolean;
  blocks: number | null;
  blocksSinceUs: number;
  invalidTips: number | null;
  rejections: WindowCounter;
  reasons: Record<string, number>;
  /** The RPC's state when not up, with its detail. */
  rpcDown: { state: string; detail: string; url: string } | null;
}

export const nodeHealth = defineDetector({
  name: NAME,
  description: 'watched node: peers gone, stalled block download, invalid tips, mempool rejection bursts',
  params,
  create(p: z.output<typeof params>) {
    const nodes = new Map<string, NodeState>();
    let evicted = 0;
    const state = (nodeId: string, timeUs: number): NodeState => {
      let s = nodes.get(nodeId);
      if (!s) {
        if (nodes.size >= p.maxNodes) {
          nodes.delete(nodes.keys().next().value!);
          evicted++;
        }
        s = {
          hadPeers: false,
          blocks: null,
          blocksSinceUs: timeUs,
          invalidTips: null,
          rejections: new WindowCounter(p.windowMs),
          reasons: {},
          rpcDown: null,
        };
        nodes.set(nodeId, s);
      }
      return s;
    };
    const signal = (e: ObserverEvent, severity: Signal['severity'], summary: string, counts: Record<string, number>): Signal => ({
      detector: NAME,
      subject: { kind: 'node', id: e.nodeId },
      severity,
      summary,
      counts,
      nodeId: e.nodeId,
      timeUs: e.timeUs,
    });
    return {
      name: NAME,
      eventTypes: ['node.status', 'mempool.tx', 'rpc.status'] as const,
      stats: () => ({ tracked: nodes.size, evicted }),
      tick: (nowUs: number) => {
        const out: Signal[] = [];
        for (const [nodeId, s] of nodes) {
          if (!s.rpcDown) continue;
          out.push({
            detector: NAME,
            subject: { kind: 'node', id: nodeId },
            severity: 'critical',
            summary: `the node's RPC at ${s.rpcDown.url} is ${s.rpcDown.state}: ${s.rpcDown.detail}`.slice(0, 300),
            counts: { rpcDown: 1 },
            nodeId,
            timeUs: nowUs,
          });
        }
        return out;
      },
      observe(e: ObserverEvent): Signal[] {
        const s = state(e.nodeId, e.timeUs);
        const out: Signal[] = [];
        if (e.type === 'mempool.tx') {
          if (e.data.action !== 'rejected') return [];
          const n = s.rejections.add(e.timeUs);
          const reason = (e.data.reason ?? 'unknown').slice(0, 48);
          if (reason in s.reasons || Object.keys(s.reasons).length < 16) s.reasons[reason] = (s.reasons[reason] ?? 0) + 1;
          if (n > p.maxRejections) {
            const counts: Record<string, number> = { rejectionsInWindow: n };
            for (const [r, c] of Object.entries(s.reasons)) counts[`reason.${r}`] = c;
            out.push(signal(e, 'warning', `${n} mempool rejections in ${p.windowMs / 1000}s`, counts));
          }
          return out;
        }
        if (e.type === 'rpc.status') {
          if (e.data.state === 'up' || e.data.state === 'warming-up') {
            s.rpcDown = null;
            return [];
          }
          s.rpcDown = { state: e.data.state, detail: e.data.detail, url: e.data.url };
          return [
            signal(e, 'critical', `the node's RPC at ${e.data.url} is ${e.data.state}: ${e.data.detail}`.slice(0, 300), {
              rpcDown: 1,
              failures: e.data.failures,
            }),
          ];
        }
        if (e.type !== 'node.status') return [];
        const d = e.data;
        if (d.connections) {
          if (d.connections.total > 0) s.hadPeers = true;
          else if (s.hadPeers && d.networkActive !== false)
            out.push(signal(e, 'critical', 'the watched node has no peers left', { connections: 0 }));
        }
        if (d.blocks !== null) {
          if (s.blocks === null || d.blocks !== s.blocks) {
            s.blocks = d.blocks;
            s.blocksSinceUs = e.timeUs;
          } else if (d.headers !== null && d.headers - d.blocks >= p.stallGapBlocks && e.timeUs - s.blocksSinceUs >= p.stallMs * 1000) {
            out.push(
              signal(
                e,
                'warning',
                `block download stalled at ${d.blocks} with headers at ${d.headers} for ${Math.round((e.timeUs - s.blocksSinceUs) / 60e6)} min`,
                {
                  blocks: d.blocks,
                  headers: d.headers,
                },
              ),
            );
          }
        }
        if (d.invalidTips !== null) {
          if (s.invalidTips !== null && d.invalidTips > s.invalidTips) {
            out.push(
              signal(e, 'warning', `${d.invalidTips - s.invalidTips} new invalid chain tip(s): invalid or mutated blocks`, {
                invalidTips: d.invalidTips,
              }),
            );
          }
          s.invalidTips = d.invalidTips;
        }
        return out;
      },
    };
  },
});
