/**
 * The decoded form of every message in the protocol. 64-bit values are bigint;
 * hashes, scripts and addresses are byte arrays in wire order (hashes in
 * internal byte order: reverse for display, see hash.ts).
 */

export type Empty = Record<string, never>;

/** Address without a timestamp, as in the version message (26 bytes). */
export interface NetAddr {
  services: bigint;
  /** 16 bytes: IPv6, or IPv4-mapped ::ffff:a.b.c.d. */
  ip: Uint8Array;
  port: number;
}

export interface Version {
  version: number;
  services: bigint;
  /** Sender's clock, seconds since the epoch (int64). */
  timestamp: bigint;
  receiver: NetAddr;
  // Fields below are optional on the wire: Core accepts a version that ends early.
  sender?: NetAddr;
  nonce?: bigint;
  userAgent?: string;
  startHeight?: number;
  /** BIP37 fRelay; absent means true. */
  relay?: boolean;
  /** The relay byte when the peer sent something other than 0 or 1 (Core reads any non-zero byte as true). */
  relayByte?: number;
}

export interface Ping {
  nonce: bigint;
}

/** Legacy addr entry (30 bytes). */
export interface AddrEntry {
  time: number;
  services: bigint;
  ip: Uint8Array;
  port: number;
}

export interface Addr {
  entries: AddrEntry[];
}

/** BIP155 network ids. */
export const ADDRV2_NETWORK = { ipv4: 1, ipv6: 2, torv2: 3, torv3: 4, i2p: 5, cjdns: 6 } as const;
export type AddrV2NetworkName = keyof typeof ADDRV2_NETWORK;

export interface AddrV2Entry {
  time: number;
  /** CompactSize on the wire, up to 64 bits. */
  services: bigint;
  networkId: number;
  /** Raw address bytes; its length is fixed per known network (ipv4 4, ipv6 16, torv2 10, torv3 32, i2p 32, cjdns 16). */
  addr: Uint8Array;
  port: number;
}

export interface AddrV2 {
  entries: AddrV2Entry[];
}

/** Inventory types (protocol.h GetDataMsg), including the witness flag 1<<30. */
export const INV_TYPE = {
  error: 0,
  tx: 1,
  block: 2,
  filteredBlock: 3,
  cmpctBlock: 4,
  wtx: 5,
  witnessTx: 0x40000001,
  witnessBlock: 0x40000002,
  filteredWitnessBlock: 0x40000003,
} as const;

export interface InvItem {
  type: number;
  hash: Uint8Array;
}

export interface Inv {
  items: InvItem[];
}

export interface BlockLocator {
  version: number;
  locator: Uint8Array[];
  stop: Uint8Array;
}

export interface BlockHeader {
  version: number;
  prevBlock: Uint8Array;
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
}

export interface Headers {
  /** On the wire each header is followed by a tx count that must be 0. */
  headers: BlockHeader[];
}

export interface TxIn {
  prevTxid: Uint8Array;
  prevIndex: number;
  scriptSig: Uint8Array;
  sequence: number;
}

export interface TxOut {
  /** Satoshis (int64). */
  value: bigint;
  scriptPubKey: Uint8Array;
}

export interface Tx {
  version: number;
  inputs: TxIn[];
  outputs: TxOut[];
  /** BIP144 witness stacks, one per input, present only for a segwit serialization. */
  witnesses?: Uint8Array[][];
  lockTime: number;
}

export interface Block {
  header: BlockHeader;
  txs: Tx[];
}

export interface FeeFilter {
  /** Satoshis per 1000 vbytes (int64). */
  feeRate: bigint;
}

export interface SendCmpct {
  announce: boolean;
  /** The announce byte when the peer sent something other than 0 or 1 (Core reads it as true). */
  announceByte?: number;
  version: bigint;
}

export interface PrefilledTx {
  /** Absolute index in the block (differentially encoded on the wire). */
  index: number;
  tx: Tx;
}

export interface CmpctBlock {
  header: BlockHeader;
  nonce: bigint;
  /** 6-byte short transaction ids. */
  shortIds: Uint8Array[];
  prefilled: PrefilledTx[];
}

export interface GetBlockTxn {
  blockHash: Uint8Array;
  /** Absolute indexes (differentially encoded on the wire). */
  indexes: number[];
}

export interface BlockTxn {
  blockHash: Uint8Array;
  txs: Tx[];
}

export interface FilterLoad {
  filter: Uint8Array;
  hashFuncs: number;
  tweak: number;
  flags: number;
}

export interface FilterAdd {
  data: Uint8Array;
}

export interface MerkleBlock {
  header: BlockHeader;
  totalTxs: number;
  hashes: Uint8Array[];
  flags: Uint8Array;
}

export interface GetCFilters {
  filterType: number;
  startHeight: number;
  stopHash: Uint8Array;
}

export interface CFilter {
  filterType: number;
  blockHash: Uint8Array;
  filter: Uint8Array;
}

export interface GetCFHeaders {
  filterType: number;
  startHeight: number;
  stopHash: Uint8Array;
}

export interface CFHeaders {
  filterType: number;
  stopHash: Uint8Array;
  prevHeader: Uint8Array;
  filterHashes: Uint8Array[];
}

export interface GetCFCheckpt {
  filterType: number;
  stopHash: Uint8Array;
}

export interface CFCheckpt {
  filterType: number;
  stopHash: Uint8Array;
  filterHeaders: Uint8Array[];
}

export interface Reject {
  message: string;
  code: number;
  reason: string;
  /** The rejected tx or block hash, present when the message was tx or block. */
  data?: Uint8Array;
}

/** Every known command and its payload. */
export interface Payloads {
  version: Version;
  verack: Empty;
  ping: Ping;
  pong: Ping;
  getaddr: Empty;
  addr: Addr;
  addrv2: AddrV2;
  sendaddrv2: Empty;
  inv: Inv;
  getdata: Inv;
  notfound: Inv;
  getheaders: BlockLocator;
  getblocks: BlockLocator;
  headers: Headers;
  sendheaders: Empty;
  block: Block;
  tx: Tx;
  mempool: Empty;
  feefilter: FeeFilter;
  sendcmpct: SendCmpct;
  cmpctblock: CmpctBlock;
  getblocktxn: GetBlockTxn;
  blocktxn: BlockTxn;
  wtxidrelay: Empty;
  filterload: FilterLoad;
  filteradd: FilterAdd;
  filterclear: Empty;
  merkleblock: MerkleBlock;
  getcfilters: GetCFilters;
  cfilter: CFilter;
  getcfheaders: GetCFHeaders;
  cfheaders: CFHeaders;
  getcfcheckpt: GetCFCheckpt;
  cfcheckpt: CFCheckpt;
  reject: Reject;
}

export type KnownCommand = keyof Payloads;

export type KnownMessage = { [K in KnownCommand]: { command: K; payload: Payloads[K] } }[KnownCommand];

/** Any command we have no codec for: kept raw, never an error. */
export interface UnknownMessage {
  command: string;
  payload: Uint8Array;
  unknown: true;
}

export type Message = KnownMessage | UnknownMessage;

export type MessageOf<K extends KnownCommand> = Extract<KnownMessage, { command: K }>;
