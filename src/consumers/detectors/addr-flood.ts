/**
 * addr flooding (the July 2021 flood of fake addresses), per peer:
 *
 * - Bitcoin Core's addr token bucket, replayed on what the peer sent: it starts
 *   with 1 token (self-announcement), refills at 0.1 address/s up to 1000, and
 *   each getaddr WE send adds 1000 (Core's MAX_ADDR_TO_SEND) for the answer.
 *   Addresses arriving with no token are what Core rate-limits: the flood.
 * - an addr/addrv2 with `unsolicitedEntries` (1000) or more entries that we did
 *   not ask for with a getaddr;
 * - entries timestamped more than `futureSec` (600 s, Core's own cut-off)
 *   after the message arrived;
 * - entries for non-routable IPs (loopback, private, reserved, ...: classifyIp).
 *
 * Also the Core sources' own verdict: `addr.received` (log: "N rate-limited")
 * and `peer.stats` `addrRateLimited` (rpc, cumulative) add to the peer's count.
 */
import { z } from 'zod';
import { summaryOf, type AddrEntry } from '../../events/message-summary.js';
import type { JsonValue, ObserverEvent } from '../../events/types.js';
import { groupOfRemote, ipOfRemote, classifyText } from '../../net/remote.js';
import { BoundedMap } from './state.js';
import { defineDetector, type Signal } from './types.js';
import { connectionKey } from '../../events/conn-key.js';

export const NAME = 'addr-flood';

const params = z
  .object({
    /** Core's MAX_ADDR_RATE_PER_SECOND. */
    ratePerSec: z.number().positive().default(0.1),
    /** Core's MAX_ADDR_PROCESSING_TOKEN_BUCKET. */
    burst: z.number().positive().default(1000),
    /** Tokens a peer starts with (Core: 1, for its self-announcement). */
    initialTokens: z.number().nonnegative().default(1),
    /** Tokens our getaddr adds (Core's MAX_ADDR_TO_SEND). */
    getaddrTokens: z.number().nonnegative().default(1000),
    /** Rate-limited addresses from one peer before a warning. */
    minRateLimited: z.number().int().positive().default(100),
    /** ... and before it is critical. */
    criticalRateLimited: z.number().int().positive().default(1000),
    /** An unsolicited addr with at least this many entries is a signal. */
    unsolicitedEntries: z.number().int().positive().default(1000),
    /** How long after our getaddr a large addr counts as the answer. */
    solicitWindowMs: z.number().positive().default(120_000),
    /** Entries this far past the message's arrival are "in the future" (Core: 10 min). */
    futureSec: z.number().positive().default(600),
    /** Future-timestamped entries from one peer before a signal. */
    minFutureEntries: z.number().int().positive().default(10),
    /** Non-routable entries from one peer before a signal. */
    minReservedEntries: z.number().int().positive().default(10),
    /** Peers tracked at once (least recently active evicted). */
    maxPeers: z.number().int().positive().default(50_000),
  })
  .strict();

export type AddrFloodParams = z.output<typeof params>;

interface PeerState {
  remote: string;
  tokens: number;
  lastUs: number;
  getaddrUs: number | null;
  entries: number;
  rateLimited: number;
  coreRateLimited: number;
  unsolicitedLarge: number;
  future: number;
  reserved: number;
  messages: number;
}

/** A bounded sample of an addr message: count, and its first entries. */
function sampleOf(command: string, entries: AddrEntry[], timeUs: number): JsonValue {
  return { command, count: entries.length, receivedUs: timeUs, first: entries.slice(0, 5) as JsonValue };
}

export const addrFlood = defineDetector({
  name: NAME,
  description: 'addr flooding: Core token bucket, unsolicited 1000-entry addr, future timestamps, non-routable entries',
  params,
  create(p: AddrFloodParams) {
    const peers = new BoundedMap<string, PeerState>(p.maxPeers);
    const peer = (e: ObserverEvent, conn: { id: number; remote: string }): PeerState =>
      peers.upsert(connectionKey(e, conn.id), () => ({
        remote: conn.remote,
        tokens: p.initialTokens,
        lastUs: e.timeUs,
        getaddrUs: null,
        entries: 0,
        rateLimited: 0,
        coreRateLimited: 0,
        unsolicitedLarge: 0,
        future: 0,
        reserved: 0,
        messages: 0,
      }));

    const judge = (e: ObserverEvent, s: PeerState, sample?: () => JsonValue): Signal[] => {
      const limited = s.rateLimited + s.coreRateLimited;
      // Most peers are honest: nothing to say, nothing to allocate.
      if (limited < p.minRateLimited && s.unsolicitedLarge === 0 && s.future < p.minFutureEntries && s.reserved < p.minReservedEntries)
        return [];
      const reasons: string[] = [];
      let severity: Signal['severity'] | null = null;
      const raise = (sev: Signal['severity']) => {
        if (severity === null || sev === 'critical' || (sev === 'warning' && severity === 'info')) severity = sev;
      };
      if (limited >= p.minRateLimited) {
        reasons.push(`${limited} addresses beyond Core's rate limit`);
        raise(limited >= p.criticalRateLimited ? 'critical' : 'warning');
      }
      if (s.unsolicitedLarge > 0) {
        reasons.push(`${s.unsolicitedLarge} unsolicited addr of ≥${p.unsolicitedEntries} entries`);
        raise('warning');
      }
      if (s.future >= p.minFutureEntries) {
        reasons.push(`${s.future} entries timestamped >${p.futureSec}s ahead`);
        raise('warning');
      }
      if (s.reserved >= p.minReservedEntries) {
        reasons.push(`${s.reserved} non-routable entries`);
        raise('info');
      }
      if (severity === null) return [];
      const ip = ipOfRemote(s.remote);
      return [
        {
          detector: NAME,
          subject: { kind: 'peer', id: s.remote },
          severity,
          summary: `addr flood from ${s.remote}: ${reasons.join(', ')}`,
          counts: {
            addrMessages: s.messages,
            addrEntries: s.entries,
            rateLimited: limited,
            unsolicitedLarge: s.unsolicitedLarge,
            futureEntries: s.future,
            nonRoutableEntries: s.reserved,
          },
          ...(sample !== undefined ? { sample: sample() } : {}),
          nodeId: e.nodeId,
          timeUs: e.timeUs,
          netgroup: groupOfRemote(s.remote),
          sourceIp: ip,
        },
      ];
    };

    return {
      name: NAME,
      eventTypes: ['message', 'connection.closed', 'addr.received', 'peer.stats'] as const,
      stats: () => ({ tracked: peers.size, evicted: peers.evicted }),
      tick: () => [],
      observe(e: ObserverEvent): Signal[] {
        switch (e.type) {
          case 'connection.closed':
            peers.delete(connectionKey(e, e.data.conn.id));
            return [];
          case 'addr.received': {
            if (e.data.rateLimited === 0) return [];
            const s = peer(e, e.data.conn);
            s.coreRateLimited += e.data.rateLimited;
            s.entries += e.data.addresses;
            s.messages++;
            const d = e.data;
            return judge(e, s, () => ({
              coreLog: true,
              addresses: d.addresses,
              processed: d.processed,
              rateLimited: d.rateLimited,
            }));
          }
          case 'peer.stats': {
            if (!e.data.addrRateLimited) return [];
            const s = peer(e, e.data.conn);
            s.coreRateLimited = Math.max(s.coreRateLimited, e.data.addrRateLimited);
            return judge(e, s);
          }
          case 'message': {
            const m = e.data;
            if (m.dir === 'out') {
              if (m.command === 'getaddr') {
                const s = peer(e, m.conn);
                s.tokens += p.getaddrTokens;
                s.getaddrUs = e.timeUs;
              }
              return [];
            }
            if (!m.known || (m.command !== 'addr' && m.command !== 'addrv2')) return [];
            const entries: AddrEntry[] | undefined = summaryOf(m)?.entries;
            if (!entries) return [];
            const s = peer(e, m.conn);
            // Refill as Core does when the message is processed (only while below the burst).
            if (s.tokens < p.burst) s.tokens = Math.min(p.burst, s.tokens + (Math.max(0, e.timeUs - s.lastUs) / 1e6) * p.ratePerSec);
            s.lastUs = e.timeUs;
            s.messages++;
            s.entries += entries.length;
            const solicited = s.getaddrUs !== null && e.timeUs - s.getaddrUs <= p.solicitWindowMs * 1000;
            if (entries.length >= p.unsolicitedEntries && !solicited) s.unsolicitedLarge++;
            if (solicited && entries.length > 1) s.getaddrUs = null; // Core answers one getaddr once
            const nowSec = e.timeUs / 1e6;
            let limitedHere = 0;
            for (const entry of entries) {
              if (s.tokens >= 1) s.tokens -= 1;
              else limitedHere++;
              if (entry.time > nowSec + p.futureSec) s.future++;
              if (!('network' in entry) || entry.network === 'ipv4' || entry.network === 'ipv6') {
                const c = classifyText(entry.addr);
                if (c !== undefined && c !== 'routable') s.reserved++;
              }
            }
            s.rateLimited += limitedHere;
            return judge(e, s, () => sampleOf(m.command, entries, e.timeUs));
          }
          default:
            return [];
        }
      },
    };
  },
});
