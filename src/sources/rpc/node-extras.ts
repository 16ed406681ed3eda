/**
 * What the rpc source reads from Bitcoin Core beyond the basics, for the
 * metrics past the reference peer-observer's (docs/metrics.md): per peer from
 * getpeerinfo (BIP152 high-bandwidth, blocks in flight, ping wait, feefilter,
 * mapped AS, inv-to-send, CPU load), and node-wide from getmemoryinfo,
 * getorphantxs, getmempoolinfo, getaddrmaninfo and getrawaddrman (entries by
 * the age of their timestamp, and those dated in the future).
 */
import { z } from 'zod';
import type { AddrmanAgeBuckets, NodeExtras, PeerExtras } from '../../events/node-extras.js';
import type { getAddrmanInfoSchema, getMempoolInfoSchema, getRawAddrmanSchema, PeerInfo } from './schemas.js';

/** Most in-flight heights kept per peer (Core asks a peer for at most 16 blocks at once: MAX_BLOCKS_IN_TRANSIT_PER_PEER). */
const MAX_INFLIGHT = 1024;
/** An addrman timestamp this far past the poll counts as future-dated (Core's AddrInfo::IsTerrible uses 10 minutes). */
export const FUTURE_SLACK_SEC = 600;

const ms = (sec: number | undefined): number | null => (sec === undefined ? null : Math.round(sec * 1e6) / 1e3);

export function peerExtrasOf(p: PeerInfo): PeerExtras {
  return {
    bip152HbTo: p.bip152_hb_to ?? null,
    bip152HbFrom: p.bip152_hb_from ?? null,
    inflightBlocks: p.inflight ? p.inflight.slice(0, MAX_INFLIGHT) : null,
    pingWaitMs: ms(p.pingwait),
    // BTC/kvB → sat/kvB, rounded to the satoshi (the RPC prints 8 decimals).
    minFeeFilterSatPerKvB: p.minfeefilter === undefined ? null : Math.round(p.minfeefilter * 1e8),
    mappedAs: p.mapped_as ?? null,
    invToSend: p.inv_to_send ?? null,
    cpuLoad: p.cpu_load ?? null,
  };
}

export const getMemoryInfoSchema = z.object({
  locked: z.object({
    used: z.number().int().nonnegative(),
    free: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    locked: z.number().int().nonnegative(),
    chunks_used: z.number().int().nonnegative(),
    chunks_free: z.number().int().nonnegative(),
  }),
});

/** getorphantxs verbosity 1 (Core 29): one object per orphan. */
export const getOrphanTxsSchema = z.array(z.object({ txid: z.string(), bytes: z.number().int().nonnegative() }));

/** The rpc source's `optional` call: the validated answer, or null when the node lacks the method or answered something else. */
export type OptionalCall = <S extends z.ZodTypeAny>(method: string, schema: S, params?: unknown[]) => Promise<z.infer<S> | null>;

export function ageBucketsOf(
  entries: Iterable<{ time?: number | undefined }>,
  nowSec: number,
): { buckets: AddrmanAgeBuckets; maxFutureSec: number } {
  const buckets: AddrmanAgeBuckets = { future: 0, hour: 0, day: 0, week: 0, month: 0, older: 0 };
  let maxFutureSec = 0;
  for (const e of entries) {
    if (e.time === undefined) continue;
    const age = nowSec - e.time;
    if (age < -FUTURE_SLACK_SEC) {
      buckets.future++;
      maxFutureSec = Math.max(maxFutureSec, -age);
    } else if (age < 3600) buckets.hour++;
    else if (age < 86400) buckets.day++;
    else if (age < 7 * 86400) buckets.week++;
    else if (age < 30 * 86400) buckets.month++;
    else buckets.older++;
  }
  return { buckets, maxFutureSec };
}

/** The network keys getaddrmaninfo has, kept to a bounded set (a hostile or future node could send any). */
const ADDRMAN_NETWORKS = new Set(['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns']);

/**
 * The node-wide extras: two more calls (getmemoryinfo, getorphantxs), the rest
 * from answers the status poll already has. `nowSec`: the poll's time.
 */
export async function pollNodeExtras(
  optional: OptionalCall,
  have: {
    mempool: z.infer<typeof getMempoolInfoSchema> | null;
    addrman: z.infer<typeof getAddrmanInfoSchema> | null;
    raw: z.infer<typeof getRawAddrmanSchema> | null;
  },
  nowSec: number,
): Promise<NodeExtras> {
  const memory = await optional('getmemoryinfo', getMemoryInfoSchema);
  const orphans = await optional('getorphantxs', getOrphanTxsSchema, [1]);
  const m = have.mempool;
  let addrmanByNetwork: NodeExtras['addrmanByNetwork'] = null;
  if (have.addrman) {
    addrmanByNetwork = {};
    for (const [net, c] of Object.entries(have.addrman)) {
      if (ADDRMAN_NETWORKS.has(net)) addrmanByNetwork[net] = { new: c.new, tried: c.tried, total: c.total };
    }
  }
  let addrmanAge: NodeExtras['addrmanAge'] = null;
  if (have.raw) {
    const n = ageBucketsOf(Object.values(have.raw.new), nowSec);
    const t = ageBucketsOf(Object.values(have.raw.tried), nowSec);
    addrmanAge = { new: n.buckets, tried: t.buckets, maxFutureSec: Math.max(n.maxFutureSec, t.maxFutureSec) };
  }
  return {
    memoryLocked: memory
      ? {
          used: memory.locked.used,
          free: memory.locked.free,
          total: memory.locked.total,
          locked: memory.locked.locked,
          chunksUsed: memory.locked.chunks_used,
          chunksFree: memory.locked.chunks_free,
        }
      : null,
    orphans: orphans ? { count: orphans.length, bytes: orphans.reduce((s, o) => s + o.bytes, 0) } : null,
    mempoolDetail: m
      ? {
          loaded: m.loaded ?? null,
          totalFeeBtc: m.total_fee ?? null,
          maxBytes: m.maxmempool ?? null,
          minRelayFeeBtcPerKvB: m.minrelaytxfee ?? null,
          incrementalRelayFeeBtcPerKvB: m.incrementalrelayfee ?? null,
          unbroadcast: m.unbroadcastcount ?? null,
        }
      : null,
    addrmanByNetwork,
    addrmanAge,
  };
}
