/**
 * The optional parts of `peer.stats` and `node.status` that carry what Bitcoin
 * Core reports beyond the basics (BIP152 high-bandwidth, blocks in flight,
 * feefilter, inv-to-send; locked memory, orphanage, addrman ages). One
 * declaration: the zod schema here, the TypeScript type inferred from it, both
 * used by types.ts and schema.ts. Every field is null where the node did not say
 * (older Core, or a field only a patched Core reports).
 */
import { z } from 'zod';

const count = z.number().int().nonnegative();
const finite = z.number().finite();

/** Bitcoin Core's getpeerinfo fields beyond PeerStats' basics. */
export const peerExtrasSchema = z
  .object({
    /** BIP152 high-bandwidth mode: we to them (`bip152_hb_to`), they to us (`bip152_hb_from`). */
    bip152HbTo: z.boolean().nullable(),
    bip152HbFrom: z.boolean().nullable(),
    /** Heights of the blocks we requested from this peer and still wait for (`inflight`); at most 1024 kept. */
    inflightBlocks: z.array(z.number().int()).max(1024).nullable(),
    /** How long an unanswered ping has been waiting (`pingwait`), null when none is outstanding. */
    pingWaitMs: finite.nonnegative().nullable(),
    /** The peer's feefilter (`minfeefilter`), in sat/kvB. */
    minFeeFilterSatPerKvB: finite.nonnegative().nullable(),
    /** The ASN the node's own -asmap gives the peer (`mapped_as`). */
    mappedAs: count.nullable(),
    /** Transactions queued to announce to this peer (`inv_to_send`, Core 30). */
    invToSend: count.nullable(),
    /** CPU time the node spent on this peer, as a share (`cpu_load`, only nodes that report it). */
    cpuLoad: finite.nonnegative().nullable(),
  })
  .strict();
export type PeerExtras = z.infer<typeof peerExtrasSchema>;

const ageBuckets = z
  .object({
    /** Timestamps more than 10 minutes ahead of the poll. */
    future: count,
    hour: count,
    day: count,
    week: count,
    month: count,
    older: count,
  })
  .strict();
/** Address-manager entries by the age of their timestamp, at the poll. */
export type AddrmanAgeBuckets = z.infer<typeof ageBuckets>;
export const ADDRMAN_AGE_BUCKETS = ['future', 'hour', 'day', 'week', 'month', 'older'] as const;

const addrmanCounts = z.object({ new: count, tried: count, total: count }).strict();

/** Node-wide facts beyond NodeStatus' basics. */
export const nodeExtrasSchema = z
  .object({
    /** getmemoryinfo `locked`: the secure-memory pool. */
    memoryLocked: z
      .object({ used: count, free: count, total: count, locked: count, chunksUsed: count, chunksFree: count })
      .strict()
      .nullable(),
    /** getorphantxs (Core 29): orphans held and their total size. */
    orphans: z.object({ count, bytes: count }).strict().nullable(),
    /** getmempoolinfo beyond NodeStatus' mempool. */
    mempoolDetail: z
      .object({
        loaded: z.boolean().nullable(),
        totalFeeBtc: finite.nonnegative().nullable(),
        maxBytes: count.nullable(),
        minRelayFeeBtcPerKvB: finite.nonnegative().nullable(),
        incrementalRelayFeeBtcPerKvB: finite.nonnegative().nullable(),
        unbroadcast: count.nullable(),
      })
      .strict()
      .nullable(),
    /** getaddrmaninfo per network (ipv4, ipv6, onion, i2p, cjdns: the source keeps only these). */
    addrmanByNetwork: z.record(z.string(), addrmanCounts).nullable(),
    /** getrawaddrman: entries by timestamp age, per table, and the furthest future timestamp. */
    addrmanAge: z.object({ new: ageBuckets, tried: ageBuckets, maxFutureSec: finite.nonnegative() }).strict().nullable(),
  })
  .strict();
export type NodeExtras = z.infer<typeof nodeExtrasSchema>;
