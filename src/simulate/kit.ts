/**
 * The small toolkit every simulated peer is built from: a TCP connection that
 * speaks our codec (`SimPeer`: send messages or raw bytes, wait for what comes
 * back), the version message a scenario bends, the v1 handshake, loopback source
 * addresses, and random material (nonces, routable addresses, transactions).
 *
 * Nothing here decides what a peer does; the scenarios in ./scenarios/ do. The
 * honest peer (honest-peer.ts) shares the random material and constants.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { type NetConnectOpts, type Socket, connect as netConnect } from 'node:net';
import { DecodeError } from '../protocol/codec.js';
import { FrameDecoder } from '../protocol/framing.js';
import { classifyIp, ipFromString } from '../protocol/address.js';
import { PROTOCOL_VERSION, WTXID_RELAY_VERSION } from '../protocol/limits.js';
import { decodeMessage, encodeMessageFrame, isKnown, msg } from '../protocol/messages/index.js';
import type { Message, Tx, Version } from '../protocol/messages/types.js';
import type { Network, NetworkName } from '../protocol/networks.js';

/** NODE_NETWORK | NODE_WITNESS | NODE_NETWORK_LIMITED, as a pruned-or-not modern node advertises. */
export const SIM_SERVICES = 1n | 8n | 1024n;
/** Services in the addresses honest peers pass on: NODE_NETWORK | NODE_WITNESS. */
export const ADDR_SERVICES = 1n | 8n;

/** Genesis block hashes (display order): the locator a fresh node sends. */
export const GENESIS: Readonly<Record<NetworkName, string>> = {
  mainnet: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
  testnet3: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
  testnet4: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
  signet: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
  regtest: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
};

export const HONEST_USER_AGENTS = ['/Satoshi:27.1.0/', '/Satoshi:28.0.0/', '/Satoshi:26.2.0/', '/Satoshi:27.0.0/'];

/** How a peer opens its TCP connection; tests pass a spy to prove no connection was attempted. */
export type ConnectFn = (options: NetConnectOpts) => Socket;

export function randomNonce(): bigint {
  return randomBytes(8).readBigUInt64LE();
}

/** A public IPv4 address (4 bytes), never private, reserved or loopback. */
export function randomRoutableIpv4(): Uint8Array {
  for (;;) {
    const b = new Uint8Array(randomBytes(4));
    if (classifyIp(ipv4Mapped(b)) === 'routable') return b;
  }
}

/** The protocol's 16-byte form of an IPv4 address: ::ffff:a.b.c.d. */
export function ipv4Mapped(v4: Uint8Array): Uint8Array {
  const ip16 = new Uint8Array(16);
  ip16[10] = 0xff;
  ip16[11] = 0xff;
  ip16.set(v4, 12);
  return ip16;
}

/** A plausible one-input, two-output segwit (P2WPKH) transaction with made-up keys and signature. */
export function randomTx(): Tx {
  const p2wpkh = () => new Uint8Array([0x00, 0x14, ...randomBytes(20)]);
  const signature = new Uint8Array([0x30, 0x44, ...randomBytes(68), 0x01]);
  const pubkey = new Uint8Array([0x02 + randomInt(2), ...randomBytes(32)]);
  return {
    version: 2,
    inputs: [{ prevTxid: new Uint8Array(randomBytes(32)), prevIndex: randomInt(4), scriptSig: new Uint8Array(0), sequence: 0xfffffffd }],
    outputs: [
      { value: BigInt(randomInt(10_000, 50_000_000)), scriptPubKey: p2wpkh() },
      { value: BigInt(randomInt(10_000, 50_000_000)), scriptPubKey: p2wpkh() },
    ],
    witnesses: [[signature, pubkey]],
    lockTime: 0,
  };
}

/** IP text to 16 bytes, all zeros when it does not parse (IPv4 on a dual-stack socket as ::ffff:a.b.c.d too). */
export function safeIp(text: string): Uint8Array {
  try {
    return ipFromString(text.startsWith('::ffff:') ? text.slice(7) : text);
  } catch {
    return new Uint8Array(16);
  }
}

// ---------------------------------------------------------------------------
// Loopback source addresses (all of 127.0.0.0/8 is loopback on Linux)

/**
 * Source address `i` inside a /24 given as three octets (`'127.54.98'`): .1 to
 * .254, wrapping. One /24, as the LinkingLion ranges are.
 */
export function sourceIn24(prefix24: string, i: number): string {
  return `${prefix24}.${1 + (i % 254)}`;
}

/**
 * Source address `i` inside a /16 given as two octets (`'127.77'`): distinct for
 * the first 65,024 values, never a .0 or .255 host. One Bitcoin Core netgroup.
 */
export function sourceIn16(prefix16: string, i: number): string {
  const n = i % (254 * 256);
  return `${prefix16}.${Math.floor(n / 254)}.${1 + (n % 254)}`;
}

/** A version message as a modern Core node sends it; scenarios override what they bend. */
export function versionMessage(overrides: Partial<Version> & { remoteIp?: string; remotePort?: number } = {}): Message {
  const { remoteIp, remotePort, ...rest } = overrides;
  const payload: Version = {
    version: PROTOCOL_VERSION,
    services: SIM_SERVICES,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    receiver: { services: 0n, ip: safeIp(remoteIp ?? ''), port: remotePort ?? 0 },
    // Like Core: we do not know our own address, so the sender field is empty.
    sender: { services: SIM_SERVICES, ip: new Uint8Array(16), port: 0 },
    nonce: randomNonce(),
    userAgent: HONEST_USER_AGENTS[randomInt(HONEST_USER_AGENTS.length)]!,
    startHeight: 0,
    relay: true,
    ...rest,
  };
  return msg('version', payload);
}

// ---------------------------------------------------------------------------
// SimPeer: one TCP connection speaking our codec

export interface SimPeerOptions {
  network: Network;
  host: string;
  port: number;
  /** Source address to dial from (e.g. 127.54.98.7). Dropped when the system does not have it (EADDRNOTAVAIL). */
  localAddress?: string;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  connect?: ConnectFn;
  /** Answer pings with pongs (a live peer does; default true). */
  answerPings?: boolean;
}

type Waiter = { pred: (m: Message) => boolean; resolve: (m: Message | undefined) => void; timer: NodeJS.Timeout };

/** Bytes queued in the socket above which `writable()` waits: a flooder must not buffer without bound. */
export const SIM_HIGH_WATER_BYTES = 4_000_000;

export class SimPeer {
  /** Received messages by command. */
  readonly received: Record<string, number> = {};
  /** Sent messages by command (raw writes as `raw`). */
  readonly sent: Record<string, number> = {};
  bytesSent = 0;
  /** Framing violations and undecodable payloads from the remote, as text. */
  readonly errors: string[] = [];
  remoteVersion: Version | undefined;
  gotVerack = false;
  /** The local address actually used (after any fallback). */
  readonly localAddress: string | undefined;
  readonly closed: Promise<void>;
  private readonly decoder: FrameDecoder;
  private readonly waiters = new Set<Waiter>();
  private open = true;

  private constructor(
    private readonly socket: Socket,
    private readonly o: SimPeerOptions,
  ) {
    this.decoder = new FrameDecoder({ network: o.network });
    this.localAddress = socket.localAddress;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.open = false;
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.resolve(undefined);
        }
        this.waiters.clear();
        resolve();
      }),
    );
    socket.on('error', () => {}); // a reset is a close; callers look at `closed`
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Open the connection; rejects when it cannot be opened (refused, timeout, aborted). */
  static open(o: SimPeerOptions): Promise<SimPeer> {
    return new Promise<SimPeer>((resolve, reject) => {
      if (o.signal?.aborted) return reject(new Error('aborted'));
      const connect = o.connect ?? netConnect;
      const socket = connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
      socket.setNoDelay(true);
      const timer = setTimeout(() => fail(new Error(`connect timeout after ${o.connectTimeoutMs ?? 5000} ms`)), o.connectTimeoutMs ?? 5000);
      const onAbort = () => fail(new Error('aborted'));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
      };
      const fail = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRNOTAVAIL' && o.localAddress) {
          // Systems where only 127.0.0.1 is loopback (macOS): dial from the default address.
          cleanup();
          socket.destroy();
          const { localAddress: _dropped, ...rest } = o;
          SimPeer.open(rest).then(resolve, reject);
          return;
        }
        fail(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        cleanup();
        resolve(new SimPeer(socket, o));
      });
    });
  }

  get isOpen(): boolean {
    return this.open && !this.socket.destroyed;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? this.o.host;
  }

  /** Our port of the connection. */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get remotePort(): number {
    return this.socket.remotePort ?? this.o.port;
  }

  /** Bytes written but not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  send(m: Message): boolean {
    if (!this.isOpen) return false;
    this.write(encodeMessageFrame(this.o.network, m));
    this.sent[m.command] = (this.sent[m.command] ?? 0) + 1;
    return true;
  }

  /** Write bytes as they are: broken frames, half headers, garbage. */
  sendRaw(bytes: Uint8Array, label = 'raw'): boolean {
    if (!this.isOpen) return false;
    this.write(bytes);
    this.sent[label] = (this.sent[label] ?? 0) + 1;
    return true;
  }

  private write(bytes: Uint8Array): void {
    this.bytesSent += bytes.length;
    this.socket.write(bytes);
  }

  /** Resolves when the socket buffer is below the high-water mark (or the peer is closed). */
  async writable(): Promise<void> {
    while (this.isOpen && this.socket.writableLength > SIM_HIGH_WATER_BYTES) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      });
    }
  }

  /** The next message matching `pred` (a command name or a predicate), or undefined on timeout or close. */
  waitFor(pred: string | ((m: Message) => boolean), timeoutMs: number): Promise<Message | undefined> {
    const test = typeof pred === 'string' ? (m: Message) => m.command === pred : pred;
    if (!this.isOpen) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const w: Waiter = {
        pred: test,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          resolve(undefined);
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /** FIN, then make sure the socket is gone. */
  close(): Promise<void> {
    if (this.isOpen) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    return this.closed;
  }

  /** Reset at once. */
  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    for (const item of this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
      if (item.type === 'violation') {
        if (this.errors.length < 100) this.errors.push(`${item.violation.kind}: ${item.violation.detail}`);
        if (item.violation.fatal) this.socket.destroy();
        continue;
      }
      let m: Message;
      try {
        m = decodeMessage(item.frame.command, item.frame.payload);
      } catch (err) {
        if (this.errors.length < 100) this.errors.push(err instanceof DecodeError ? err.message : String(err));
        continue;
      }
      this.received[m.command] = (this.received[m.command] ?? 0) + 1;
      if (isKnown(m)) {
        if (m.command === 'version') this.remoteVersion = m.payload;
        else if (m.command === 'verack') this.gotVerack = true;
        else if (m.command === 'ping' && (this.o.answerPings ?? true)) this.send(msg('pong', { nonce: m.payload.nonce }));
      }
      for (const w of this.waiters) {
        if (w.pred(m)) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(m);
        }
      }
    }
  }
}

export interface HandshakeOptions {
  /** Our version message (default: `versionMessage()` addressed to the remote). */
  version?: Message;
  /** Send our verack (default true). LinkingLion-like spies never do. */
  verack?: boolean;
  /** Announce wtxidrelay and sendaddrv2 to a 70016 remote, between version and verack (default true). */
  features?: boolean;
  timeoutMs?: number;
}

/**
 * The v1 handshake from the dialling side: our version, wait for theirs, our
 * feature announcements and verack, wait for their verack. Resolves true when
 * version and verack went both ways.
 */
export async function handshake(peer: SimPeer, options: HandshakeOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  const gotVersion = peer.remoteVersion ? Promise.resolve(undefined) : peer.waitFor('version', timeoutMs);
  const gotVerack = peer.gotVerack ? Promise.resolve(undefined) : peer.waitFor('verack', timeoutMs);
  peer.send(options.version ?? versionMessage({ remoteIp: peer.remoteAddress, remotePort: peer.remotePort }));
  await gotVersion;
  if (!peer.remoteVersion) return false;
  if (options.verack === false) return false;
  if ((options.features ?? true) && peer.remoteVersion.version >= WTXID_RELAY_VERSION) {
    peer.send(msg('wtxidrelay', {}));
    peer.send(msg('sendaddrv2', {}));
  }
  peer.send(msg('verack', {}));
  if (!peer.gotVerack) await Promise.race([gotVerack, sleep(Math.max(0, deadline - Date.now()))]);
  return peer.gotVerack;
}

/** Sleep, cut short by the signal. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
