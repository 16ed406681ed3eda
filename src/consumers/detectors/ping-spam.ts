/**
 * Ping spam and odd ping nonces, per peer. Bitcoin Core pings every 2 minutes
 * with a random 64-bit nonce; a peer pinging many times a minute, with nonce 0,
 * or with the same nonce again and again is not a normal node.
 *
 * From Core's getpeerinfo (rpc `peer.stats`) only the rate: a v1 ping is always
 * 32 bytes on the wire (24-byte header + 8-byte nonce; Core's
 * `bytesrecv_per_msg` counts both), so the growth of `bytesInPerMsg.ping`
 * between polls is the number of pings. Nonces are not in getpeerinfo.
 */
import { z } from 'zod';
import { summaryOf } from '../../events/message-summary.js';
import type { ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote } from '../../net/remote.js';
import { BoundedMap, WindowCounter } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { connectionKey } from '../../events/conn-key.js';

export const NAME = 'ping-spam';

const params = z
  .object({
    /** Pings from one peer within `windowMs` before a warning. */
    maxPings: z.number().int().positive().default(30),
    windowMs: z.number().positive().default(60_000),
    /** Pings with nonce 0 or a nonce repeated from this peer before a signal (info). */
    minOddNonces: z.number().int().positive().default(5),
    maxPeers: z.number().int().positive().default(50_000),
  })
  .strict();

interface PeerState {
  remote: string;
  window: WindowCounter;
  pings: number;
  zero: number;
  repeated: number;
  lastNonce: string | null;
  /** Pings counted from getpeerinfo so far (rpc). */
  statsPings: number | null;
}

/** A v1 ping in Core's per-message byte counters: header + nonce. */
const V1_PING_BYTES = 24 + 8;

export const pingSpam = defineDetector({
  name: NAME,
  description: 'ping floods and odd ping nonces (0, repeated)',
  params,
  create(p: z.output<typeof params>) {
    const peers = new BoundedMap<string, PeerState>(p.maxPeers);
    return {
      name: NAME,
      eventTypes: ['message', 'connection.closed', 'peer.stats'] as const,
      stats: () => ({ tracked: peers.size, evicted: peers.evicted }),
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        if (e.type === 'connection.closed') {
          peers.delete(connectionKey(e, e.data.conn.id));
          return [];
        }
        const fresh = (remote: string): PeerState => ({
          remote,
          window: new WindowCounter(p.windowMs),
          pings: 0,
          zero: 0,
          repeated: 0,
          lastNonce: null,
          statsPings: null,
        });
        let s: PeerState;
        let inWindow: number;
        let nonce: string | null = null;
        if (e.type === 'peer.stats') {
          const d = e.data;
          if (d.transport !== 'v1') return [];
          const total = Math.floor((d.bytesInPerMsg['ping'] ?? 0) / V1_PING_BYTES);
          s = peers.upsert(connectionKey(e, d.conn.id), () => fresh(d.conn.remote));
          // First sight: the pings since the connection opened count only when it opened within the window.
          const since = s.statsPings ?? (e.timeUs / 1e6 - d.connTime <= p.windowMs / 1000 ? 0 : total);
          s.statsPings = total;
          if (total <= since) return [];
          s.pings += total - since;
          inWindow = s.window.add(e.timeUs, total - since);
        } else {
          if (e.type !== 'message' || e.data.dir !== 'in' || !e.data.known || e.data.command !== 'ping') return [];
          const m = e.data;
          s = peers.upsert(connectionKey(e, m.conn.id), () => fresh(m.conn.remote));
          nonce = summaryOf(m)?.nonce ?? null;
          s.pings++;
          inWindow = s.window.add(e.timeUs);
          if (nonce === '0') s.zero++;
          else if (nonce !== null && nonce === s.lastNonce) s.repeated++;
          s.lastNonce = nonce;
        }
        const odd = s.zero + s.repeated;
        const spam = inWindow > p.maxPings;
        if (!spam && odd < p.minOddNonces) return [];
        const reasons = [];
        if (spam) reasons.push(`${inWindow} pings in ${p.windowMs / 1000}s`);
        if (odd >= p.minOddNonces) reasons.push(`${s.zero} with nonce 0, ${s.repeated} with a repeated nonce`);
        return [
          {
            detector: NAME,
            subject: { kind: 'peer', id: s.remote },
            severity: spam ? 'warning' : 'info',
            summary: `ping spam from ${s.remote}: ${reasons.join('; ')}`,
            counts: { pings: s.pings, pingsInWindow: inWindow, nonceZero: s.zero, nonceRepeated: s.repeated },
            sample: { command: 'ping', nonce, timeUs: e.timeUs },
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
