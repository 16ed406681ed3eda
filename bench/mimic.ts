/**
 * bench/mimic: 1,000 inbound peers on a mimic node backed by a real regtest
 * bitcoind; the backend mines blocks one at a time, and we measure the latency
 * from the backend having the block (its generatetoaddress RPC returned) to each
 * peer's announcement arriving, the last peer's per block (p50/p99), and the
 * backend RPC calls per new block.
 *
 *   BITCOIND=../shared/bitcoin-core/bin/bitcoind npm run bench:mimic -- [--peers 1000] [--blocks 30] [--interval 1000]
 *
 * The peers are a third each: plain (announced by inv), sendheaders (headers),
 * and high-bandwidth compact blocks (cmpctblock); each tells us its tip with
 * getheaders first, as a synced peer has. Peers and observer share this process
 * (the latency includes the peers' own decoding). Loopback only.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { FrameDecoder } from '../src/protocol/framing.js';
import { NETWORKS } from '../src/protocol/networks.js';
import { encodeMessageFrame } from '../src/protocol/messages/index.js';
import type { Message } from '../src/protocol/messages/types.js';
import { hexToHash } from '../src/protocol/hash.js';
import { startObserver } from '../src/sources/p2p/observer.js';
import { startMimic } from '../src/sources/p2p/mimic/start.js';
import { startBitcoind } from '../test/helpers/bitcoind.js';
import { fmt, machine, table } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    peers: { type: 'string', default: '1000' },
    blocks: { type: 'string', default: '30' },
    interval: { type: 'string', default: '1000' },
  },
});
const PEERS = Number(opts.peers);
const BLOCKS = Number(opts.blocks);
const INTERVAL = Number(opts.interval);
const network = NETWORKS.regtest;

type Kind = 'inv' | 'headers' | 'cmpct';

class BenchPeer {
  private readonly decoder = new FrameDecoder({ network });
  private waiting: ((at: number) => void) | undefined;
  verack: Promise<void>;
  headers: Promise<void>;
  private resolveVerack!: () => void;
  private resolveHeaders!: () => void;
  constructor(
    readonly socket: Socket,
    readonly kind: Kind,
  ) {
    this.verack = new Promise((r) => (this.resolveVerack = r));
    this.headers = new Promise((r) => (this.resolveHeaders = r));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const item of this.decoder.push(new Uint8Array(chunk))) {
        if (item.type !== 'frame') continue;
        const c = item.frame.command;
        if (c === 'verack') this.resolveVerack();
        else if (c === 'ping')
          socket.write(
            frame({
              command: 'pong',
              payload: { nonce: new DataView(item.frame.payload.buffer, item.frame.payload.byteOffset).getBigUint64(0, true) },
            }),
          );
        else if (c === 'headers' && !this.waiting) this.resolveHeaders();
        const wanted = this.kind === 'inv' ? 'inv' : this.kind === 'headers' ? 'headers' : 'cmpctblock';
        if (c === wanted && this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(at);
        }
      }
    });
  }
  next(): Promise<number> {
    return new Promise((r) => (this.waiting = r));
  }
}

const frame = (m: Message): Uint8Array => encodeMessageFrame(network, m);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const node = await startBitcoind({ args: ['-v2transport=0'], debugNet: false });
const events = { count: 0 };
const mimic = await startMimic({
  url: node.rpcUrl,
  auth: { kind: 'cookie', file: node.cookieFile },
  nodeId: 'bench',
  publish: () => events.count++,
});
const observer = await startObserver({
  network,
  nodeId: 'bench',
  listen: [{ host: '127.0.0.1', port: 0 }],
  connect: [],
  limits: { maxConnections: PEERS + 100, maxPerIp: PEERS + 100, handshakeTimeoutMs: 120_000 },
  publish: () => events.count++,
  mimic: mimic.node,
});
const port = observer.listening[0]!.port;
try {
  await node.mine(101);
  await new Promise((r) => setTimeout(r, 1500));
  const kinds: Kind[] = ['inv', 'headers', 'cmpct'];
  const peers: BenchPeer[] = [];
  for (let i = 0; i < PEERS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, PEERS - i) }, async (_, j) => {
        const socket = connect({ host: '127.0.0.1', port });
        await once(socket, 'connect');
        const p = new BenchPeer(socket, kinds[(i + j) % 3]!);
        socket.write(
          frame({
            command: 'version',
            payload: {
              version: 70016,
              services: 1033n,
              timestamp: BigInt(Math.floor(Date.now() / 1000)),
              receiver: { services: 0n, ip: new Uint8Array(16), port: 0 },
              sender: { services: 1033n, ip: new Uint8Array(16), port: 0 },
              nonce: BigInt(i + j + 1),
              userAgent: '/bench:0/',
              startHeight: 101,
              relay: true,
            },
          }),
        );
        await p.verack;
        socket.write(frame({ command: 'wtxidrelay', payload: {} }));
        socket.write(frame({ command: 'sendaddrv2', payload: {} }));
        socket.write(frame({ command: 'verack', payload: {} }));
        if (p.kind === 'headers') socket.write(frame({ command: 'sendheaders', payload: {} }));
        if (p.kind === 'cmpct') socket.write(frame({ command: 'sendcmpct', payload: { announce: true, version: 2n } }));
        const tip = await node.rpc<string>('getbestblockhash');
        socket.write(frame({ command: 'getheaders', payload: { version: 70016, locator: [hexToHash(tip)], stop: new Uint8Array(32) } }));
        await p.headers;
        return p;
      }),
    );
    peers.push(...batch);
  }
  const b = mimic.node.backend;
  // Idle RPC rate (the poll's safety net), to separate it from what each block costs.
  const idle0 = b.counters.rpcCalls;
  const idleT = performance.now();
  await new Promise((r) => setTimeout(r, 5000));
  const idleRate = (b.counters.rpcCalls - idle0) / ((performance.now() - idleT) / 1000);

  const lastPeer: number[] = [];
  const everyPeer: number[] = [];
  const byKind: Record<Kind, number[]> = { inv: [], headers: [], cmpct: [] };
  const rpc0 = b.counters.rpcCalls;
  const t0run = performance.now();
  for (let k = 0; k < BLOCKS; k++) {
    const waits = peers.map((p) => p.next().then((at) => ({ at, kind: p.kind })));
    await node.mine(1);
    const seen = performance.now();
    const arrivals = await Promise.all(waits);
    let last = 0;
    for (const a of arrivals) {
      const d = Math.max(0, a.at - seen);
      everyPeer.push(d);
      byKind[a.kind].push(d);
      if (d > last) last = d;
    }
    lastPeer.push(last);
    await new Promise((r) => setTimeout(r, INTERVAL));
  }
  const seconds = (performance.now() - t0run) / 1000;
  const rpcPerBlock = (b.counters.rpcCalls - rpc0) / BLOCKS;
  const rpcPerBlockNet = rpcPerBlock - (idleRate * seconds) / BLOCKS;
  const s = (xs: number[]): number[] => xs.slice().sort((x, y) => x - y);
  const m = await machine();
  console.log(
    `bench:mimic — ${PEERS} peers (a third each inv / headers / cmpctblock), ${BLOCKS} blocks ${INTERVAL} ms apart; ${m.cpu}, ${m.nproc} cores, load ${m.load}, node ${m.node}, ${m.date}`,
  );
  console.log(
    table(
      ['latency (ms) from the backend having the block', 'p50', 'p99', 'max'],
      [
        ['last peer, per block', fmt(pct(s(lastPeer), 50)), fmt(pct(s(lastPeer), 99)), fmt(Math.max(...lastPeer))],
        ['every peer', fmt(pct(s(everyPeer), 50)), fmt(pct(s(everyPeer), 99)), fmt(Math.max(...everyPeer))],
        ...(['inv', 'headers', 'cmpct'] as Kind[]).map((k) => [
          `  ${k} peers`,
          fmt(pct(s(byKind[k]), 50)),
          fmt(pct(s(byKind[k]), 99)),
          fmt(Math.max(...byKind[k])),
        ]),
      ],
    ),
  );
  console.log(
    `RPC calls per new block: ${fmt(rpcPerBlock, 2)} in all, ${fmt(rpcPerBlockNet, 2)} beyond the idle rate (${fmt(idleRate, 2)}/s); long-poll wakeups ${b.longPollWakeups}`,
  );
  console.log(`mimic counters: ${JSON.stringify(mimic.node.stats())}`);
  for (const p of peers) p.socket.destroy();
} finally {
  await observer.stop();
  mimic.stop();
  await node.stop();
}
