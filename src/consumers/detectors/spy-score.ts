/**
 * A spy score per peer from its inv/getdata behaviour. Transaction-origin spies
 * (the kind that connect to every reachable node to see who announces a
 * transaction first) listen and probe rather than relay:
 *
 * - probing: getdata for transactions nobody announced to them. Bitcoin Core
 *   only asks a peer for what that peer announced (TxDownloadManager, fed by
 *   the peer's inv), and for the parents of an orphan it received from it; a
 *   getdata for a transaction we never announced to the peer is a mempool
 *   probe. On our honeypot, which never announces, every transaction getdata is
 *   one. Judged on the hashes the message summaries carry (the first 16 of each
 *   message), and only while everything announced to the peer was in full view.
 * - listening without relaying: we announced many transactions, it announced
 *   (nearly) none back. An honest full-relay peer with other peers announces
 *   what it hears.
 * - greed: it asked for most of what we announced. An honest peer with several
 *   peers fetches a transaction from whichever announced it first, so only a
 *   share of ours.
 *
 * score = 0.6 × probing + 0.3 × listening + 0.3 × greed (each 0..1); a peer
 * at or over `minScore` (0.6) is a warning: probing alone, or listening and
 * greed together. A leaf node whose only peer is us (a wallet behind one
 * connection) listens and fetches everything too: raise `minAnnounced` for such
 * setups.
 */
import { z } from 'zod';
import { summaryOf, type InvSummary } from '../../events/message-summary.js';
import type { JsonValue, ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap, CappedSet } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { connectionKey } from '../../events/conn-key.js';

export const NAME = 'spy-score';

const params = z
  .object({
    /** Unannounced transaction getdata items before probing counts fully. */
    minProbes: z.number().int().positive().default(10),
    /** Transaction entries we announced to the peer before listening and greed are judged. */
    minAnnounced: z.number().int().positive().default(500),
    /** Score at which a peer is a warning. */
    minScore: z.number().positive().max(1.2).default(0.6),
    /** Announced hashes remembered per peer (to tell a probe from a request). */
    maxHashesPerPeer: z.number().int().positive().default(4096),
    maxPeers: z.number().int().positive().default(50_000),
  })
  .strict();

interface PeerState {
  remote: string;
  /** Transaction hashes we announced to it (as far as the summaries show). */
  announced: CappedSet<string>;
  /** False once an announcement to it was not shown in full (more items than the summary keeps, or the set overflowed). */
  fullView: boolean;
  txAnnouncedToPeer: number;
  txAnnouncedByPeer: number;
  txRequested: number;
  /** getdata transaction items we could check, and those we never announced. */
  checked: number;
  probes: number;
  lastSample: JsonValue;
}

const TX_TYPES = /^(tx|wtx|witness_tx)$/;

/** Transaction entries in an inv/getdata summary, and the transaction hashes it shows. */
function txItems(inv: InvSummary): { tx: number; shown: string[]; complete: boolean } {
  let tx = 0;
  for (const [name, n] of Object.entries(inv.types)) if (TX_TYPES.test(name)) tx += n;
  const shown: string[] = [];
  for (const it of inv.items) if (TX_TYPES.test(it.type)) shown.push(it.hash);
  return { tx, shown, complete: inv.items.length >= inv.count };
}

export function spyScore(
  s: { probes: number; checked: number; announced: number; announcedByPeer: number; requested: number },
  p: { minProbes: number; minAnnounced: number },
): { score: number; probing: number; listening: number; greed: number } {
  const probing = s.checked > 0 ? Math.min(1, s.probes / p.minProbes) * (s.probes / s.checked) : 0;
  const judged = s.announced >= p.minAnnounced;
  const listening = judged ? Math.max(0, 1 - s.announcedByPeer / (0.05 * s.announced)) : 0;
  const greed = judged ? Math.min(1, Math.max(0, (s.requested / s.announced - 0.3) / 0.5)) : 0;
  return { score: 0.6 * probing + 0.3 * listening + 0.3 * greed, probing, listening, greed };
}

export const spyScoreDetector = defineDetector({
  name: NAME,
  description:
    'spy score per peer from inv/getdata: getdata for unannounced transactions, listening without relaying, fetching most of what is announced',
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
        if (e.type !== 'message') return [];
        const m = e.data;
        if (!m.known || (m.command !== 'inv' && m.command !== 'getdata')) return [];
        const isInv = m.command === 'inv';
        if (!isInv && m.dir === 'out') return [];
        const inv = summaryOf(m);
        if (!inv) return [];
        const items = txItems(inv);
        if (items.tx === 0) return [];
        const s = peers.upsert(connectionKey(e, m.conn.id), () => ({
          remote: m.conn.remote,
          announced: new CappedSet<string>(p.maxHashesPerPeer),
          fullView: true,
          txAnnouncedToPeer: 0,
          txAnnouncedByPeer: 0,
          txRequested: 0,
          checked: 0,
          probes: 0,
          lastSample: null,
        }));
        if (isInv && m.dir === 'out') {
          s.txAnnouncedToPeer += items.tx;
          if (!items.complete || s.announced.size + items.shown.length > p.maxHashesPerPeer) s.fullView = false;
          for (const h of items.shown) s.announced.add(h);
          return [];
        }
        if (isInv) {
          s.txAnnouncedByPeer += items.tx;
          return [];
        }
        s.txRequested += items.tx;
        if (s.fullView) {
          s.checked += items.shown.length;
          const unannounced = items.shown.filter((h) => !s.announced.has(h));
          s.probes += unannounced.length;
          if (unannounced.length > 0)
            s.lastSample = { command: 'getdata', count: items.tx, unannounced: unannounced.slice(0, 3), timeUs: e.timeUs };
        }
        const r = spyScore(
          {
            probes: s.probes,
            checked: s.checked,
            announced: s.txAnnouncedToPeer,
            announcedByPeer: s.txAnnouncedByPeer,
            requested: s.txRequested,
          },
          p,
        );
        if (r.score < p.minScore) return [];
        const reasons = [
          r.probing > 0 ? `${s.probes} getdata items for transactions never announced to it` : '',
          r.listening > 0 ? `${s.txAnnouncedByPeer} tx announced back for ${s.txAnnouncedToPeer} announced to it` : '',
          r.greed > 0 ? `asked for ${s.txRequested} of ${s.txAnnouncedToPeer}` : '',
        ].filter(Boolean);
        return [
          {
            detector: NAME,
            subject: { kind: 'peer', id: s.remote },
            severity: 'warning',
            summary: `spy-like inv/getdata from ${s.remote} (score ${r.score.toFixed(2)}): ${reasons.join('; ')}`,
            counts: {
              scorePercent: Math.round(r.score * 100),
              probes: s.probes,
              checkedItems: s.checked,
              txAnnouncedToPeer: s.txAnnouncedToPeer,
              txAnnouncedByPeer: s.txAnnouncedByPeer,
              txRequested: s.txRequested,
            },
            ...(s.lastSample !== null ? { sample: s.lastSample } : {}),
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
