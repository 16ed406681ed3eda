/**
 * Helpers for the mimic tests against a real bitcoind: a mimic honeypot backed
 * by a node, transactions spending the OP_TRUE coinbases the harness mines, and
 * a prober that records every message with its arrival time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { base32Encode, torV3ToString } from '../../../../src/protocol/address.js';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { V2Transport } from '../../../../src/protocol/v2/transport.js';
import { EXPANSION } from '../../../../src/protocol/v2/cipher.js';
import { decodeMessage, encodePayload } from '../../../../src/protocol/messages/index.js';
import { encode } from '../../../../src/protocol/codec.js';
import { CODECS } from '../../../../src/protocol/messages/index.js';
import { hexToHash } from '../../../../src/protocol/hash.js';
import type { Message, Tx } from '../../../../src/protocol/messages/types.js';
import { startMimic, type RunningMimic } from '../../../../src/sources/p2p/mimic/start.js';
import type { BudgetOptions } from '../../../../src/sources/p2p/mimic/budget.js';
import type { Bitcoind } from '../../../helpers/bitcoind.js';
import { REGTEST, startTestObserver, TestPeer, versionMessage, type TestObserver } from '../helpers.js';

export interface MimicHarness extends TestObserver {
  mimic: RunningMimic;
}

/**
 * The mimic observer backed by `node`. `v2` (default false) must match the node's
 * -v2transport: a v1-only Core is compared with a v1-only mimic, a v2 Core with a
 * mimic that speaks v2 and advertises NODE_P2P_V2.
 */
export async function startMimicObserver(
  node: Bitcoind,
  options: { budget?: BudgetOptions; pollMs?: number; v2?: boolean; externalAddresses?: { host: string; port: number }[] } = {},
): Promise<MimicHarness> {
  let publish: (e: Parameters<TestObserver['log']['publish']>[0]) => void = () => {};
  const mimic = await startMimic({
    url: node.rpcUrl,
    auth: { kind: 'cookie', file: node.cookieFile },
    nodeId: 'test-node',
    publish: (e) => publish(e),
    ...(options.budget ? { budget: options.budget } : {}),
    backend: { pollMs: options.pollMs ?? 200 },
    v2: options.v2 ?? false,
    ...(options.externalAddresses ? { externalAddresses: options.externalAddresses } : {}),
  });
  const t = await startTestObserver({ mimic: mimic.node, v2: options.v2 ?? false });
  publish = t.log.publish;
  return {
    ...t,
    mimic,
    stop: async () => {
      mimic.stop();
      await t.stop();
    },
  };
}

/** P2WSH(OP_TRUE): what OP_TRUE_ADDRESS pays to. */
export const OP_TRUE_SCRIPT = new Uint8Array([0x00, 0x20, ...createHash('sha256').update(Uint8Array.of(0x51)).digest()]);

/**
 * Spend the coinbase of each given (mature) block to OP_TRUE, with a witness,
 * and send it to the node's mempool. Returns the txids.
 */
export async function spendCoinbases(node: Bitcoind, blockHashes: readonly string[]): Promise<string[]> {
  const txids: string[] = [];
  for (const hash of blockHashes) {
    txids.push(
      await node.rpc<string>('sendrawtransaction', Buffer.from(encode(CODECS.tx, await coinbaseSpend(node, hash))).toString('hex')),
    );
  }
  return txids;
}

/** A valid transaction spending the coinbase of `blockHash` (OP_TRUE, with a witness), not sent anywhere. */
export async function coinbaseSpend(node: Bitcoind, blockHash: string): Promise<Tx> {
  {
    const hash = blockHash;
    const block = await node.rpc<{ tx: { txid: string; vout: { value: number }[] }[] }>('getblock', hash, 2);
    const cb = block.tx[0]!;
    const value = BigInt(Math.round(cb.vout[0]!.value * 1e8));
    const tx: Tx = {
      version: 2,
      inputs: [{ prevTxid: hexToHash(cb.txid), prevIndex: 0, scriptSig: new Uint8Array(0), sequence: 0xfffffffd }],
      outputs: [
        { value: value / 2n, scriptPubKey: OP_TRUE_SCRIPT },
        { value: value / 2n - 1000n, scriptPubKey: OP_TRUE_SCRIPT },
      ],
      witnesses: [[Uint8Array.of(0x51)]],
      lockTime: 0,
    };
    return tx;
  }
}

/** What the prober needs of a connection: TestPeer (v1) or V2ProbePeer (BIP324 v2). */
export interface ProbePeer {
  readonly received: Message[];
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  send(...messages: Message[]): void;
  waitFor(command: string, timeoutMs?: number): Promise<Message>;
  close(): void;
}

/**
 * A BIP324 initiator on our own V2Transport over TCP, shaped like TestPeer. It
 * keeps what the v2 layer shows of the other side: its garbage length, decoys,
 * version packet contents, and for each message whether its type came as
 * BIP324's one-byte id or the 13-byte long form.
 */
export class V2ProbePeer implements ProbePeer {
  readonly received: Message[] = [];
  /** Per received message: bytes its type took in the packet (1: short id, 13: long form). */
  readonly typeBytes: number[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  /** Their version packet arrived. */
  handshakeDone = false;
  private waiters: { command: string; resolve: (m: Message) => void }[] = [];

  private constructor(
    readonly socket: Socket,
    readonly transport: V2Transport,
  ) {
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      if (transport.closed) return;
      for (const item of transport.push(new Uint8Array(chunk))) {
        if (item.type === 'send') socket.write(item.bytes);
        else if (item.type === 'handshake') this.handshakeDone = true;
        else if (item.type === 'violation') socket.destroy();
        else if (item.type === 'frame') {
          const m = decodeMessage(item.frame.command, item.frame.payload);
          this.typeBytes.push(item.frame.wireSize - EXPANSION - item.frame.payload.length);
          this.received.push(m);
          this.waiters = this.waiters.filter((w) => {
            if (w.command !== m.command) return true;
            w.resolve(m);
            return false;
          });
        }
      }
    });
  }

  static async connect(port: number, options: { garbage?: Uint8Array; decoys?: number[] } = {}): Promise<V2ProbePeer> {
    const transport = new V2Transport({ network: REGTEST, initiating: true, ...options });
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const peer = new V2ProbePeer(socket, transport);
    socket.write(transport.start());
    return peer;
  }

  send(...messages: Message[]): void {
    for (const m of messages) {
      const bytes = this.transport.encodeMessage(m.command, encodePayload(m));
      if (bytes) this.socket.write(bytes);
    }
  }

  waitFor(command: string, timeoutMs = 5000): Promise<Message> {
    const seen = this.received.find((m) => m.command === command);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${command}`)), timeoutMs);
      this.waiters.push({
        command,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A prober: a TestPeer (or V2ProbePeer) that answers pings and timestamps every message. */
export class Prober {
  readonly log: { at: number; m: Message }[] = [];
  private constructor(readonly peer: ProbePeer) {
    const origPush = peer.received.push.bind(peer.received);
    peer.received.push = (...ms: Message[]): number => {
      for (const m of ms) {
        this.log.push({ at: performance.now(), m });
        if (m.command === 'ping' && !('unknown' in m)) peer.send({ command: 'pong', payload: { nonce: m.payload.nonce } });
      }
      return origPush(...ms);
    };
  }

  static async connect(port: number, options: { v2?: boolean } = {}): Promise<Prober> {
    return new Prober(options.v2 ? await V2ProbePeer.connect(port) : await TestPeer.connect(port));
  }

  send(...ms: Message[]): void {
    this.peer.send(...ms);
  }

  /** Like Core's outbound side: version, then wtxidrelay, sendaddrv2 and verack once theirs arrive. */
  async handshake(overrides: Parameters<typeof versionMessage>[0] = {}, options: { addrv2?: boolean } = {}): Promise<void> {
    this.send(versionMessage({ services: 9n | 1024n, startHeight: 0, ...overrides }));
    await this.peer.waitFor('verack', 10_000);
    this.send({ command: 'wtxidrelay', payload: {} });
    if (options.addrv2 ?? true) this.send({ command: 'sendaddrv2', payload: {} });
    this.send({ command: 'verack', payload: {} });
  }

  commands(sinceMs = 0): string[] {
    return this.log.filter((e) => e.at >= sinceMs).map((e) => e.m.command);
  }

  since(sinceMs: number): Message[] {
    return this.log.filter((e) => e.at >= sinceMs).map((e) => e.m);
  }

  async first(command: string, sinceMs = 0, timeoutMs = 10_000): Promise<Message> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.log.find((e) => e.at >= sinceMs && e.m.command === command);
      if (hit) return hit.m;
      if (performance.now() > end) throw new Error(`no ${command} within ${timeoutMs} ms; got ${this.commands(sinceMs).join(',')}`);
      await sleep(20);
    }
  }

  get closed(): boolean {
    return this.peer.isClosed;
  }

  close(): void {
    this.peer.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Give the node's address manager addresses of every network (20 each of IPv4,
 * IPv6, Tor v3, I2P and CJDNS; CJDNS needs -cjdnsreachable), so getaddr has
 * something to answer. Returns how many it took.
 */
export async function seedAddresses(node: Bitcoind): Promise<number> {
  const names: string[] = [];
  for (let i = 0; i < 20; i++) {
    const key = new Uint8Array(randomBytes(32));
    names.push(`${20 + i}.${1 + i}.2.3`, `2a01:${(0x100 + i).toString(16)}::1`, torV3ToString(key), `${base32Encode(key)}.b32.i2p`);
    const groups = Array.from({ length: 7 }, () => randomBytes(2).toString('hex'));
    names.push(`fc${randomBytes(1).toString('hex')}:${groups.join(':')}`);
  }
  let added = 0;
  for (const a of names) {
    const r = await node.rpc<{ success: boolean }>('addpeeraddress', a, 8333);
    if (r.success) added++;
  }
  return added;
}
