/**
 * inv spam and oversized inv, per peer. Bitcoin Core announces transactions in
 * batches of at most 35 per inv (7 per second × its 5 s trickle interval), so
 * invs with more tx entries — the 2023 inv-to-send DoS — or an inv flood are
 * not a Core peer relaying. An inv over MAX_INV_SZ (50,000) never decodes: it
 * arrives as a violation, counted by malformed-burst.
 */
import { z } from 'zod';
import { summaryOf, type InvSummary } from '../../events/message-summary.js';
import type { ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap, WindowCounter } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { connectionKey } from '../../events/conn-key.js';

export const NAME = 'inv-spam';

const params = z
  .object({
    /** Tx entries per inv Core sends at most (INVENTORY_BROADCAST_MAX). */
    maxTxPerInv: z.number().int().positive().default(35),
    /** Oversized invs from one peer within `windowMs` before a warning. */
    minOversizedInvs: z.number().int().positive().default(3),
    /** One inv with at least this many entries is a warning by itself. */
    hugeInvEntries: z.number().int().positive().default(1000),
    /** Inv entries from one peer within `windowMs` before a warning. */
    maxEntriesInWindow: z.number().int().positive().default(10_000),
    windowMs: z.number().positive().default(60_000),
    maxPeers: z.number().int().positive().default(50_000),
  })
  .strict();

interface PeerState {
  remote: string;
  invs: number;
  oversized: WindowCounter;
  entries: WindowCounter;
  oversizedTotal: number;
  largest: number;
}

function invCounts(inv: InvSummary): { count: number; tx: number } {
  let tx = 0;
  for (const [name, n] of Object.entries(inv.types)) if (/tx/i.test(name)) tx += n;
  return { count: inv.count, tx };
}

export const invSpam = defineDetector({
  name: NAME,
  description: 'inv floods and invs with more tx entries than Core ever sends (35)',
  params,
  create(p: z.output<typeof params>) {
    const peers = new BoundedMap<string, PeerState>(p.maxPeers);
    return {
      name: NAME,
      eventTypes: ['message', 'connection.closed'] as const,
      stats: () => ({ tracked: peers.size, evicted: peers.evicted }),
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type === 'connection.closed') {
          peers.delete(connectionKey(e, e.data.conn.id));
          return [];
        }
        if (e.type !== 'message' || e.data.dir !== 'in' || !e.data.known || e.data.command !== 'inv') return [];
        const m = e.data;
        const inv = summaryOf(m);
        if (!inv) return [];
        const c = invCounts(inv);
        const s = peers.upsert(connectionKey(e, m.conn.id), () => ({
          remote: m.conn.remote,
          invs: 0,
          oversized: new WindowCounter(p.windowMs),
          entries: new WindowCounter(p.windowMs),
          oversizedTotal: 0,
          largest: 0,
        }));
        s.invs++;
        s.largest = Math.max(s.largest, c.count);
        const entries = s.entries.add(e.timeUs, c.count);
        let oversized = s.oversized.value(e.timeUs);
        if (c.tx > p.maxTxPerInv) {
          oversized = s.oversized.add(e.timeUs);
          s.oversizedTotal++;
        }
        const reasons: string[] = [];
        if (c.count >= p.hugeInvEntries) reasons.push(`an inv of ${c.count} entries`);
        if (oversized >= p.minOversizedInvs) reasons.push(`${oversized} invs over ${p.maxTxPerInv} tx entries`);
        if (entries > p.maxEntriesInWindow) reasons.push(`${entries} inv entries in ${p.windowMs / 1000}s`);
        if (!reasons.length) return [];
        return [
          {
            detector: NAME,
            subject: { kind: 'peer', id: s.remote },
            severity: 'warning',
            summary: `inv spam from ${s.remote}: ${reasons.join(', ')}`,
            counts: { invs: s.invs, largestInv: s.largest, oversizedInvs: s.oversizedTotal, entriesInWindow: entries },
            sample: { command: 'inv', count: c.count, txEntries: c.tx, timeUs: e.timeUs },
            nodeId: e.nodeId,
            timeUs: e.timeUs,
            netgroup: groupOfRemote(s.remote),
            sourceIp: ipOfRemote(s.remote),
          },
        ];
      },
    };
  },
});
