/**
 * The benchmark and fuzz corpus: real frames recorded from Bitcoin Core (the
 * fixture streams) plus deterministic generated traffic (inv, tx, addr, addrv2,
 * headers, ping/pong) built with our own encoder.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { encodeMessageFrame, msg } from '../../src/protocol/messages/index.js';
import type { AddrEntry, AddrV2Entry, BlockHeader, InvItem, Message, Tx } from '../../src/protocol/messages/types.js';
import { NETWORKS, type Network } from '../../src/protocol/networks.js';
import { Rng } from './rng.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The project's copy of the fixtures if present, else the shared recordings next to the repo. */
export function fixtureP2pDir(): string {
  const candidates = [
    join(REPO_ROOT, 'test', 'fixtures', 'bitcoind', 'p2p'),
    resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'bitcoind', 'p2p'),
  ];
  for (const c of candidates) if (existsSync(join(c, 'v1'))) return c;
  throw new Error(`no P2P fixture streams found (looked in ${candidates.join(', ')})`);
}

export interface CorpusFrame {
  /** Where it came from: `fixture:<file>` or `generated`. */
  source: string;
  command: string;
  /** The whole frame as on the wire: header + payload. */
  wire: Uint8Array;
  /** A view of the payload inside `wire`. */
  payload: Uint8Array;
}

/**
 * Every well-formed frame of the v1 and v1-attacks recordings, in recorded order.
 * Frames the decoder rejects (the malformed recording's bad checksum and oversize
 * header) are left out: the throughput corpus is valid traffic.
 */
export function fixtureFrames(network: Network = NETWORKS.regtest): CorpusFrame[] {
  const root = fixtureP2pDir();
  const out: CorpusFrame[] = [];
  for (const dir of ['v1', 'v1-attacks']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (!name.endsWith('.bin')) continue;
      const bytes = new Uint8Array(readFileSync(join(root, dir, name)));
      const decoder = new FrameDecoder({ network });
      let offset = 0;
      for (const item of decoder.push(bytes)) {
        if (item.type !== 'frame') {
          if (!item.violation.fatal) offset += 24 + (item.violation.length ?? 0);
          continue;
        }
        const wire = bytes.subarray(offset, offset + item.frame.wireSize);
        offset += item.frame.wireSize;
        out.push({ source: `fixture:${dir}/${name}`, command: item.frame.command, wire, payload: wire.subarray(24) });
      }
    }
  }
  return out;
}

function generatedFrame(network: Network, m: Message): CorpusFrame {
  const wire = encodeMessageFrame(network, m);
  return { source: 'generated', command: m.command, wire, payload: wire.subarray(24) };
}

function ipv4Mapped(rng: Rng): Uint8Array {
  const ip = new Uint8Array(16);
  ip[10] = 0xff;
  ip[11] = 0xff;
  ip.set(rng.bytes(4), 12);
  return ip;
}

const NOW = 1_795_463_923; // the recordings' day: keeps the corpus independent of the clock

function addrEntry(rng: Rng): AddrEntry {
  return {
    time: NOW - rng.int(3 * 86_400),
    services: rng.pick([0x409n, 0x809n, 0xc09n, 0x1n]),
    ip: rng.chance(0.9) ? ipv4Mapped(rng) : rng.bytes(16),
    port: rng.chance(0.8) ? 8333 : rng.range(1024, 65535),
  };
}

const ADDRV2_SIZES: readonly [number, number][] = [
  [1, 4], // ipv4
  [2, 16], // ipv6
  [4, 32], // torv3
  [5, 32], // i2p
  [6, 16], // cjdns
];

function addrV2Entry(rng: Rng): AddrV2Entry {
  const [networkId, size] = rng.chance(0.5) ? ADDRV2_SIZES[0]! : rng.pick(ADDRV2_SIZES);
  return {
    time: NOW - rng.int(3 * 86_400),
    services: rng.pick([0x409n, 0x809n, 0xc09n, 0x1n]),
    networkId,
    addr: rng.bytes(size),
    port: networkId === 5 ? 0 : rng.chance(0.8) ? 8333 : rng.range(1024, 65535),
  };
}

function invItems(rng: Rng, n: number): InvItem[] {
  const items: InvItem[] = [];
  for (let i = 0; i < n; i++) items.push({ type: rng.chance(0.95) ? 5 : rng.pick([1, 2, 0x40000001]), hash: rng.bytes(32) });
  return items;
}

/** A typical transaction: 1-3 inputs, 1-3 outputs, P2WPKH-like witnesses or legacy scriptSigs. */
function tx(rng: Rng): Tx {
  const segwit = rng.chance(0.8);
  const nIn = rng.pick([1, 1, 1, 2, 2, 3]);
  const nOut = rng.pick([1, 2, 2, 2, 3]);
  const inputs = [];
  for (let i = 0; i < nIn; i++) {
    inputs.push({
      prevTxid: rng.bytes(32),
      prevIndex: rng.int(4),
      scriptSig: segwit ? new Uint8Array() : rng.bytes(rng.range(106, 108)),
      sequence: rng.chance(0.7) ? 0xfffffffd : 0xffffffff,
    });
  }
  const outputs = [];
  for (let i = 0; i < nOut; i++) {
    outputs.push({ value: BigInt(rng.range(546, 5_000_000_000)), scriptPubKey: rng.bytes(rng.pick([22, 22, 25, 34])) });
  }
  const t: Tx = { version: rng.pick([1, 2]), inputs, outputs, lockTime: rng.chance(0.5) ? 0 : NOW % 900_000 };
  if (segwit) t.witnesses = inputs.map(() => [rng.bytes(rng.range(71, 72)), rng.bytes(33)]);
  return t;
}

function header(rng: Rng, prev: Uint8Array): BlockHeader {
  return { version: 0x20000000, prevBlock: prev, merkleRoot: rng.bytes(32), time: NOW + rng.int(600), bits: 0x207fffff, nonce: rng.u32() };
}

function headers(rng: Rng, n: number): BlockHeader[] {
  const out: BlockHeader[] = [];
  let prev = rng.bytes(32);
  for (let i = 0; i < n; i++) {
    const h = header(rng, prev);
    out.push(h);
    prev = rng.bytes(32);
  }
  return out;
}

export interface GeneratedMix {
  tx: number;
  inv: number;
  addr: number;
  addrv2: number;
  headers: number;
  ping: number;
}

/**
 * Default mix (~6 MB): what an observer sees from a busy honest peer set plus
 * occasional full-size messages (1000-entry addr, 2000-header batches).
 */
export const DEFAULT_MIX: GeneratedMix = { tx: 6000, inv: 6000, addr: 400, addrv2: 400, headers: 40, ping: 4000 };

/** Deterministic generated traffic, interleaved at random (same seed, same bytes). */
export function generatedFrames(seed: number, mix: GeneratedMix = DEFAULT_MIX, network: Network = NETWORKS.regtest): CorpusFrame[] {
  const rng = new Rng(seed);
  const kinds: (keyof GeneratedMix)[] = [];
  for (const [k, n] of Object.entries(mix) as [keyof GeneratedMix, number][]) for (let i = 0; i < n; i++) kinds.push(k);
  // Fisher-Yates with our rng: a realistic interleaving, reproducible.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const out: CorpusFrame[] = [];
  for (const kind of kinds) {
    let m: Message;
    switch (kind) {
      case 'tx':
        m = msg('tx', tx(rng));
        break;
      case 'inv':
        // Mostly small announcements; now and then a large batch.
        m = msg('inv', { items: invItems(rng, rng.chance(0.995) ? rng.range(1, 35) : rng.range(100, 2000)) });
        break;
      case 'addr': {
        const n = rng.chance(0.9) ? rng.range(1, 10) : 1000;
        m = msg('addr', { entries: Array.from({ length: n }, () => addrEntry(rng)) });
        break;
      }
      case 'addrv2': {
        const n = rng.chance(0.9) ? rng.range(1, 10) : 1000;
        m = msg('addrv2', { entries: Array.from({ length: n }, () => addrV2Entry(rng)) });
        break;
      }
      case 'headers':
        m = msg('headers', { headers: headers(rng, rng.chance(0.75) ? rng.range(1, 8) : 2000) });
        break;
      case 'ping':
        m = msg(rng.chance(0.5) ? 'ping' : 'pong', { nonce: rng.u64() });
        break;
    }
    out.push(generatedFrame(network, m));
  }
  return out;
}

export { concatBytes as concat } from '../../src/protocol/primitives.js';

/** Split a stream into fixed-size chunks (views), as a socket would deliver it. */
export function chunk(stream: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += size) out.push(stream.subarray(at, Math.min(stream.length, at + size)));
  return out;
}

/**
 * One or more valid messages for every command, including those the recordings
 * and the generated mix lack, so the fuzzer starts from every codec.
 */
export function everyCommandMessages(seed: number): Message[] {
  const rng = new Rng(seed);
  const h = () => rng.bytes(32);
  const hdr = header(rng, h());
  const t = tx(rng);
  const legacy: Tx = { ...tx(rng) };
  delete legacy.witnesses;
  const locator = { version: 70016, locator: [h(), h(), h()], stop: new Uint8Array(32) };
  return [
    msg('version', {
      version: 70016,
      services: 0x409n,
      timestamp: BigInt(NOW),
      receiver: { services: 0n, ip: ipv4Mapped(rng), port: 8333 },
      sender: { services: 0x409n, ip: ipv4Mapped(rng), port: 8333 },
      nonce: rng.u64(),
      userAgent: '/Satoshi:27.0.0/',
      startHeight: 850_000,
      relay: true,
    }),
    msg('version', { version: 60000, services: 1n, timestamp: BigInt(NOW), receiver: { services: 0n, ip: ipv4Mapped(rng), port: 8333 } }),
    msg('verack', {}),
    msg('ping', { nonce: rng.u64() }),
    msg('pong', { nonce: rng.u64() }),
    msg('getaddr', {}),
    msg('addr', { entries: [addrEntry(rng), addrEntry(rng)] }),
    msg('addrv2', { entries: ADDRV2_SIZES.map(() => addrV2Entry(rng)) }),
    msg('sendaddrv2', {}),
    msg('inv', { items: invItems(rng, 3) }),
    msg('getdata', { items: invItems(rng, 2) }),
    msg('notfound', { items: invItems(rng, 1) }),
    msg('getheaders', locator),
    msg('getblocks', locator),
    msg('headers', { headers: headers(rng, 3) }),
    msg('sendheaders', {}),
    msg('block', { header: hdr, txs: [legacy, t] }),
    msg('tx', t),
    msg('tx', legacy),
    msg('mempool', {}),
    msg('feefilter', { feeRate: 1000n }),
    msg('sendcmpct', { announce: false, version: 2n }),
    msg('cmpctblock', { header: hdr, nonce: rng.u64(), shortIds: [rng.bytes(6), rng.bytes(6)], prefilled: [{ index: 0, tx: legacy }] }),
    msg('getblocktxn', { blockHash: h(), indexes: [1, 2, 5] }),
    msg('blocktxn', { blockHash: h(), txs: [t] }),
    msg('wtxidrelay', {}),
    msg('filterload', { filter: rng.bytes(64), hashFuncs: 11, tweak: rng.u32(), flags: 1 }),
    msg('filteradd', { data: rng.bytes(33) }),
    msg('filterclear', {}),
    msg('merkleblock', { header: hdr, totalTxs: 7, hashes: [h(), h(), h()], flags: new Uint8Array([0x1d]) }),
    msg('getcfilters', { filterType: 0, startHeight: 100, stopHash: h() }),
    msg('cfilter', { filterType: 0, blockHash: h(), filter: rng.bytes(40) }),
    msg('getcfheaders', { filterType: 0, startHeight: 100, stopHash: h() }),
    msg('cfheaders', { filterType: 0, stopHash: h(), prevHeader: h(), filterHashes: [h(), h()] }),
    msg('getcfcheckpt', { filterType: 0, stopHash: h() }),
    msg('cfcheckpt', { filterType: 0, stopHash: h(), filterHeaders: [h()] }),
    msg('reject', { message: 'tx', code: 0x10, reason: 'bad-txns-inputs-missingorspent', data: h() }),
    msg('reject', { message: 'version', code: 0x11, reason: 'obsolete' }),
  ];
}

export function encodeFrames(messages: readonly Message[], network: Network = NETWORKS.regtest): CorpusFrame[] {
  return messages.map((m) => generatedFrame(network, m));
}
