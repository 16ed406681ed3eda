/**
 * A simulated honest peer, built on our own codec: it dials an observer over TCP
 * (from a chosen loopback source address), handshakes like a modern Bitcoin Core
 * (70016, wtxidrelay, sendaddrv2, verack, then sendheaders/sendcmpct/feefilter),
 * answers pings and, now and then, sends the kind of traffic an honest node sends:
 * pings, a few fresh routable addresses, inv of a few wtxids, a getheaders, rarely
 * a transaction. It decodes everything it receives and counts what it could not.
 *
 * Used by `peer-observer demo`, by tests, and as the honest baseline detectors
 * must stay quiet on.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Socket, connect } from 'node:net';
import { DecodeError } from '../protocol/codec.js';
import { FrameDecoder } from '../protocol/framing.js';
import { hexToHash } from '../protocol/hash.js';
import {
  FEEFILTER_VERSION,
  PROTOCOL_VERSION,
  SENDHEADERS_VERSION,
  SHORT_IDS_BLOCKS_VERSION,
  WTXID_RELAY_VERSION,
} from '../protocol/limits.js';
import { decodeMessage, encodeMessageFrame, encodePayload, isKnown, msg } from '../protocol/messages/index.js';
import { V2Transport } from '../protocol/v2/transport.js';
import { INV_TYPE, type AddrEntry, type AddrV2Entry, type Message } from '../protocol/messages/types.js';
import type { Network } from '../protocol/networks.js';
import {
  type ConnectFn,
  ADDR_SERVICES,
  GENESIS,
  HONEST_USER_AGENTS,
  SIM_SERVICES,
  ipv4Mapped,
  randomNonce,
  randomRoutableIpv4,
  randomTx,
  safeIp,
} from './kit.js';

export { randomRoutableIpv4, randomTx } from './kit.js';

const OUR_SERVICES = SIM_SERVICES;
const USER_AGENTS = HONEST_USER_AGENTS;

export interface HonestPeerOptions {
  network: Network;
  host: string;
  port: number;
  /** Source address to dial from, e.g. 127.0.0.5 (all of 127.0.0.0/8 is loopback on Linux). */
  localAddress?: string;
  userAgent?: string;
  startHeight?: number;
  /** Mean time between two pieces of honest traffic. */
  trafficIntervalMs?: number;
  /** Give up when the handshake has not completed within this. */
  handshakeTimeoutMs?: number;
  signal?: AbortSignal;
  /** How to open the TCP connection (default node:net's connect; tests pass a spy). */
  connect?: ConnectFn;
  /** Every message sent and received, decoded (for tests and tracing). */
  onMessage?: (m: Message, dir: 'in' | 'out') => void;
  /** Speak BIP324 v2 (as the initiator), with a few decoy packets before the version packet, as a v2 node may. */
  v2?: boolean;
}

export interface HonestPeerStats {
  sent: Record<string, number>;
  received: Record<string, number>;
  /** Framing violations and payloads that failed to decode, as text. */
  errors: string[];
  handshakeComplete: boolean;
  /** The peer's version message said this. */
  remoteUserAgent: string | undefined;
  remoteVersion: number | undefined;
  /** Round trips of our pings, ms. */
  pingRttMs: number[];
}

export type HonestPeerEnd = 'aborted' | 'remote-closed' | 'handshake-timeout' | 'fatal-framing' | 'socket-error';

export interface HonestPeerResult {
  end: HonestPeerEnd;
  detail: string;
  stats: HonestPeerStats;
}

/** Connect, handshake, talk until aborted or disconnected. Rejects only when the connection cannot be opened. */
export function runHonestPeer(options: HonestPeerOptions): Promise<HonestPeerResult> {
  return new HonestPeer(options).run();
}

class HonestPeer {
  private readonly decoder: FrameDecoder;
  private readonly v2: V2Transport | undefined;
  private readonly stats: HonestPeerStats = {
    sent: {},
    received: {},
    errors: [],
    handshakeComplete: false,
    remoteUserAgent: undefined,
    remoteVersion: undefined,
    pingRttMs: [],
  };
  private socket: Socket | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private gotVerack = false;
  private wtxidRelay = false;
  private addrV2 = false;
  private readonly pings = new Map<bigint, number>();
  private readonly announced = new Set<string>();
  private finish!: (r: HonestPeerResult) => void;

  constructor(private readonly o: HonestPeerOptions) {
    this.decoder = new FrameDecoder({ network: o.network });
    if (o.v2) this.v2 = new V2Transport({ network: o.network, initiating: true, decoys: [randomInt(64), randomInt(64)] });
  }

  run(): Promise<HonestPeerResult> {
    const { signal } = this.o;
    if (signal?.aborted) return Promise.resolve({ end: 'aborted', detail: 'aborted before start', stats: this.stats });
    return new Promise<HonestPeerResult>((resolve, reject) => {
      let opened = false;
      let settled = false;
      this.finish = (r) => {
        if (settled) return;
        settled = true;
        this.clearTimers();
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => {
        if (!opened) {
          socket.destroy();
          this.finish({ end: 'aborted', detail: 'aborted while connecting', stats: this.stats });
          return;
        }
        // A clean close: FIN first, then make sure it is gone.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
        this.finish({ end: 'aborted', detail: 'stopped', stats: this.stats });
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      const socket = (this.o.connect ?? connect)({
        host: this.o.host,
        port: this.o.port,
        ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
      });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        opened = true;
        if (this.v2) socket.write(this.v2.start());
        this.sendVersion(); // over v2: queued until the v2 handshake lets it be encrypted
        this.timer(() => {
          if (!this.stats.handshakeComplete) {
            socket.destroy();
            this.finish({ end: 'handshake-timeout', detail: 'no verack', stats: this.stats });
          }
        }, this.o.handshakeTimeoutMs ?? 30_000);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => {
        if (!opened) {
          settled = true;
          this.clearTimers();
          signal?.removeEventListener('abort', onAbort);
          reject(err);
          return;
        }
        this.finish({ end: 'socket-error', detail: err.message, stats: this.stats });
      });
      socket.on('close', () => this.finish({ end: 'remote-closed', detail: 'connection closed', stats: this.stats }));
    });
  }

  private timer(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private send(m: Message): void {
    const s = this.socket;
    if (!s || s.destroyed || s.writableEnded) return;
    if (this.v2) {
      const packet = this.v2.encodeMessage(m.command, encodePayload(m));
      if (packet) s.write(packet);
    } else {
      s.write(encodeMessageFrame(this.o.network, m));
    }
    this.stats.sent[m.command] = (this.stats.sent[m.command] ?? 0) + 1;
    this.o.onMessage?.(m, 'out');
  }

  private sendVersion(): void {
    const s = this.socket!;
    const remote = s.remoteAddress ?? this.o.host;
    this.send(
      msg('version', {
        version: PROTOCOL_VERSION,
        services: OUR_SERVICES,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        receiver: { services: 0n, ip: safeIp(remote), port: s.remotePort ?? this.o.port },
        // Like Core: we do not know our own address, so the sender field is empty.
        sender: { services: OUR_SERVICES, ip: new Uint8Array(16), port: 0 },
        nonce: randomNonce(),
        userAgent: this.o.userAgent ?? USER_AGENTS[randomInt(USER_AGENTS.length)]!,
        startHeight: this.o.startHeight ?? 0,
        relay: true,
      }),
    );
  }

  private onData(chunk: Buffer): void {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.v2) return this.onV2Data(bytes);
    for (const item of this.decoder.push(bytes)) {
      if (item.type === 'violation') {
        this.stats.errors.push(`${item.violation.kind}: ${item.violation.detail}`);
        if (item.violation.fatal) {
          this.socket?.destroy();
          this.finish({ end: 'fatal-framing', detail: item.violation.detail, stats: this.stats });
          return;
        }
        continue;
      }
      this.frame(item.frame.command, item.frame.payload);
    }
  }

  private onV2Data(bytes: Uint8Array): void {
    for (const item of this.v2!.push(bytes)) {
      if (item.type === 'send') this.socket?.write(item.bytes);
      else if (item.type === 'frame') this.frame(item.frame.command, item.frame.payload);
      else if (item.type === 'violation') {
        this.stats.errors.push(`${item.violation.kind}: ${item.violation.detail}`);
        if (item.violation.fatal) {
          this.socket?.destroy();
          this.finish({ end: 'fatal-framing', detail: item.violation.detail, stats: this.stats });
          return;
        }
      }
    }
  }

  private frame(command: string, payload: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(command, payload);
    } catch (err) {
      this.stats.errors.push(err instanceof DecodeError ? err.message : String(err));
      return;
    }
    this.stats.received[m.command] = (this.stats.received[m.command] ?? 0) + 1;
    this.o.onMessage?.(m, 'in');
    this.handle(m);
  }

  private handle(m: Message): void {
    if (!isKnown(m)) return;
    switch (m.command) {
      case 'version':
        this.stats.remoteVersion = m.payload.version;
        this.stats.remoteUserAgent = m.payload.userAgent;
        // BIP339 / BIP155 announcements go between version and verack, only to peers that know them.
        if (m.payload.version >= WTXID_RELAY_VERSION) {
          this.send(msg('wtxidrelay', {}));
          this.send(msg('sendaddrv2', {}));
        }
        this.send(msg('verack', {}));
        break;
      case 'wtxidrelay':
        this.wtxidRelay = true;
        break;
      case 'sendaddrv2':
        this.addrV2 = true;
        break;
      case 'verack':
        if (this.gotVerack) break;
        this.gotVerack = true;
        this.stats.handshakeComplete = true;
        {
          const v = this.stats.remoteVersion ?? 0;
          if (v >= SENDHEADERS_VERSION) this.send(msg('sendheaders', {}));
          if (v >= SHORT_IDS_BLOCKS_VERSION) this.send(msg('sendcmpct', { announce: false, version: 2n }));
          if (v >= FEEFILTER_VERSION) this.send(msg('feefilter', { feeRate: 1000n }));
        }
        this.sendPing();
        this.sendGetheaders();
        this.scheduleTraffic();
        break;
      case 'ping':
        this.send(msg('pong', { nonce: m.payload.nonce }));
        break;
      case 'pong': {
        const sentAt = this.pings.get(m.payload.nonce);
        if (sentAt !== undefined) {
          this.pings.delete(m.payload.nonce);
          this.stats.pingRttMs.push(performance.now() - sentAt);
        }
        break;
      }
      case 'getdata': {
        // We announced made-up transactions: say we do not have them, as a node would for an evicted tx.
        const missing = m.payload.items.filter((i) => this.announced.has(Buffer.from(i.hash).toString('hex')));
        if (missing.length > 0) this.send(msg('notfound', { items: missing }));
        break;
      }
      default:
        break; // an honest peer has nothing to say to the rest
    }
  }

  private scheduleTraffic(): void {
    const mean = this.o.trafficIntervalMs ?? 2000;
    this.timer(
      () => {
        this.sendSomething();
        this.scheduleTraffic();
      },
      Math.max(10, Math.round(mean * (0.5 + Math.random()))),
    );
  }

  private sendSomething(): void {
    const r = Math.random();
    if (r < 0.3) this.sendInv();
    else if (r < 0.5) this.sendAddresses();
    else if (r < 0.75) this.sendPing();
    else if (r < 0.9) this.sendGetheaders();
    else this.send(msg('tx', randomTx()));
  }

  private sendPing(): void {
    const nonce = randomNonce();
    this.pings.set(nonce, performance.now());
    if (this.pings.size > 100) this.pings.delete(this.pings.keys().next().value!);
    this.send(msg('ping', { nonce }));
  }

  private sendGetheaders(): void {
    this.send(
      msg('getheaders', { version: PROTOCOL_VERSION, locator: [hexToHash(GENESIS[this.o.network.name])], stop: new Uint8Array(32) }),
    );
  }

  private sendInv(): void {
    const items = Array.from({ length: randomInt(1, 5) }, () => {
      const hash = new Uint8Array(randomBytes(32));
      this.announced.add(Buffer.from(hash).toString('hex'));
      return { type: this.wtxidRelay ? INV_TYPE.wtx : INV_TYPE.tx, hash };
    });
    if (this.announced.size > 1000) this.announced.clear();
    this.send(msg('inv', { items }));
  }

  private sendAddresses(): void {
    const now = Math.floor(Date.now() / 1000);
    const port = this.o.network.defaultPort;
    const n = randomInt(1, 4);
    if (this.addrV2) {
      const entries: AddrV2Entry[] = Array.from({ length: n }, () => ({
        time: now - randomInt(0, 3 * 3600),
        services: ADDR_SERVICES,
        networkId: 1,
        addr: randomRoutableIpv4(),
        port,
      }));
      this.send(msg('addrv2', { entries }));
    } else {
      const entries: AddrEntry[] = Array.from({ length: n }, () => {
        const ip = ipv4Mapped(randomRoutableIpv4());
        return { time: now - randomInt(0, 3 * 3600), services: ADDR_SERVICES, ip, port };
      });
      this.send(msg('addr', { entries }));
    }
  }
}
