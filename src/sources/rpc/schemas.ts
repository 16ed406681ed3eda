/**
 * Schemas for the Bitcoin Core RPC answers we use. They validate only the
 * fields we read; unknown fields are ignored (stripped), and fields that older
 * Core versions lack are optional (noted with the version that added them), so
 * a node a few releases old still works.
 */
import { z } from 'zod';

const int = z.number().int();
const nonNeg = z.number().nonnegative();
const count = int.nonnegative();

export const peerInfoSchema = z.object({
  id: count,
  addr: z.string(),
  addrbind: z.string().optional(),
  network: z.string().optional(), // 0.21
  services: z.string().regex(/^[0-9a-f]{1,16}$/i),
  relaytxes: z.boolean().optional(),
  bytessent: count,
  bytesrecv: count,
  conntime: int,
  timeoffset: z.number().optional(),
  pingtime: nonNeg.optional(), // absent before the first pong
  minping: nonNeg.optional(),
  version: int,
  subver: z.string(),
  inbound: z.boolean(),
  startingheight: int.optional(), // optional since 28 (deprecated)
  synced_blocks: int.optional(),
  addr_relay_enabled: z.boolean().optional(), // 23
  addr_processed: count.optional(), // 23
  addr_rate_limited: count.optional(), // 23
  permissions: z.array(z.string()).optional(),
  bytessent_per_msg: z.record(z.string(), count).optional(),
  bytesrecv_per_msg: z.record(z.string(), count).optional(),
  connection_type: z.string().optional(), // 0.21
  transport_protocol_type: z.string().optional(), // 26
  // Read by node-extras.ts:
  bip152_hb_to: z.boolean().optional(), // 0.21
  bip152_hb_from: z.boolean().optional(),
  inflight: z.array(int).optional(),
  pingwait: nonNeg.optional(), // only while a ping is outstanding
  minfeefilter: nonNeg.optional(), // BTC/kvB
  mapped_as: count.optional(), // only with -asmap
  inv_to_send: count.optional(), // 30
  cpu_load: nonNeg.optional(), // patched nodes only
});
export type PeerInfo = z.infer<typeof peerInfoSchema>;
export const getPeerInfoSchema = z.array(peerInfoSchema);

const warnings = z.union([z.string(), z.array(z.string())]).optional(); // a string before 28

export const getNetworkInfoSchema = z.object({
  version: int,
  subversion: z.string(),
  protocolversion: int.optional(),
  networkactive: z.boolean().optional(),
  connections: count,
  connections_in: count.optional(), // 0.21
  connections_out: count.optional(),
  warnings,
});

export const getNetTotalsSchema = z.object({ totalbytesrecv: count, totalbytessent: count, timemillis: int.optional() });

export const getMempoolInfoSchema = z.object({
  loaded: z.boolean().optional(),
  size: count,
  bytes: count,
  usage: count,
  mempoolminfee: nonNeg,
  total_fee: nonNeg.optional(), // 0.21
  maxmempool: count.optional(),
  minrelaytxfee: nonNeg.optional(),
  incrementalrelayfee: nonNeg.optional(), // 24
  unbroadcastcount: count.optional(), // 0.21
});

export const getBlockchainInfoSchema = z.object({
  chain: z.string(),
  blocks: int,
  headers: int,
  bestblockhash: z.string().regex(/^[0-9a-f]{64}$/),
  initialblockdownload: z.boolean().optional(),
  verificationprogress: z.number().optional(),
  warnings,
});

export const getChainTipsSchema = z.array(z.object({ height: int, hash: z.string(), branchlen: count, status: z.string() }));

const addrmanCounts = z.object({ new: count, tried: count, total: count });
export const getAddrmanInfoSchema = z.object({ all_networks: addrmanCounts }).catchall(addrmanCounts); // 26

const rawAddrmanEntry = z.object({
  address: z.string(),
  port: int,
  network: z.string().optional(),
  source: z.string().optional(), // 26
  source_network: z.string().optional(),
  time: int.optional(),
});
export const getRawAddrmanSchema = z.object({
  new: z.record(z.string(), rawAddrmanEntry),
  tried: z.record(z.string(), rawAddrmanEntry),
}); // 26, hidden

export const uptimeSchema = count;
export const listBannedSchema = z.array(z.object({ address: z.string() }));

/** Every schema by method, for tests and for callers that want one lookup. */
export const RPC_SCHEMAS = {
  getpeerinfo: getPeerInfoSchema,
  getnetworkinfo: getNetworkInfoSchema,
  getnettotals: getNetTotalsSchema,
  getmempoolinfo: getMempoolInfoSchema,
  getblockchaininfo: getBlockchainInfoSchema,
  getchaintips: getChainTipsSchema,
  getaddrmaninfo: getAddrmanInfoSchema,
  getrawaddrman: getRawAddrmanSchema,
  uptime: uptimeSchema,
  listbanned: listBannedSchema,
} as const;
export type PolledMethod = keyof typeof RPC_SCHEMAS;

/** Core's chain names (getblockchaininfo `chain`) → ours. */
export function networkOfChain(chain: string): 'mainnet' | 'testnet3' | 'testnet4' | 'signet' | 'regtest' | undefined {
  switch (chain) {
    case 'main':
      return 'mainnet';
    case 'test':
      return 'testnet3';
    case 'testnet4':
      return 'testnet4';
    case 'signet':
      return 'signet';
    case 'regtest':
      return 'regtest';
    default:
      return undefined;
  }
}
