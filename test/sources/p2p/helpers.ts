/**
 * Test helpers for the p2p source: an observer whose events are collected, and a
 * scripted raw peer built on our own codec (so a test can send anything, valid or
 * not, byte by byte). Loopback only.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { FrameDecoder } from '../../../src/protocol/framing.js';
import { NETWORKS, type Network } from '../../../src/protocol/networks.js';
import { decodeMessage, encodeMessageFrame } from '../../../src/protocol/messages/index.js';
import type { Message } from '../../../src/protocol/messages/types.js';
import type { EventType, ObserverEvent, EventEnvelope } from '../../../src/events/types.js';
import { parseEvent } from '../../../src/events/schema.js';
import { startObserver, type Observer, type ObserverOptions } from '../../../src/sources/p2p/observer.js';

export const REGTEST = NETWORKS.regtest;

export class EventLog {
  readonly events: ObserverEvent[] = [];
  /** Events that failed the schema validation used at the bus boundary. */
  readonly invalid: string[] = [];
  private waiters: { pred: (e: ObserverEvent) => boolean; resolve: (e: ObserverEvent) => void }[] = [];

  readonly publish = (e: ObserverEvent): void => {
    try {
      parseEvent(JSON.parse(JSON.stringify(e)));
    } catch (error) {
      this.invalid.push(`${e.type}: ${(error as Error).message}`);
    }
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  };

  of<T extends EventType>(type: T, pred: (e: EventEnvelope<T>) => boolean = () => true): EventEnvelope<T>[] {
    return this.events.filter((e) => e.type === type && pred(e as EventEnvelope<T>)) as EventEnvelope<T>[];
  }

  /** The first event (already seen or future) of `type` matching `pred`. */
  waitFor<T extends EventType>(type: T, pred: (e: EventEnvelope<T>) => boolean = () => true, timeoutMs = 5000): Promise<EventEnvelope<T>> {
    const match = (e: ObserverEvent): boolean => e.type === type && pred(e as EventEnvelope<T>);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen as EventEnvelope<T>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a ${type} event`));
      }, timeoutMs);
      const done = (e: ObserverEvent): void => {
        clearTimeout(timer);
        resolve(e as EventEnvelope<T>);
      };
      this.waiters.push({ pred: match, resolve: done });
    });
  }
}

export interface TestObserver {
  observer: Observer;
  log: EventLog;
  port: number;
  stop(): Promise<void>;
}

export async function startTestObserver(options: Partial<Omit<ObserverOptions, 'publish'>> = {}): Promise<TestObserver> {
  const log = new EventLog();
  const observer = await startObserver({
    network: REGTEST,
    nodeId: 'test-node',
    listen: [{ host: '127.0.0.1', port: 0 }],
    connect: [],
    ...options,
    publish: log.publish,
  });
  const stop = async (): Promise<void> => {
    await observer.stop();
    if (log.invalid.length > 0) throw new Error(`events failing the schema: ${log.invalid.slice(0, 3).join('; ')}`);
  };
  return { observer, log, port: observer.listening[0]?.port ?? 0, stop };
}

export function versionMessage(overrides: Partial<Extract<Message, { command: 'version' }>['payload']> = {}): Message {
  return {
    command: 'version',
    payload: {
      version: 70016,
      services: 9n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      receiver: { services: 0n, ip: new Uint8Array(16), port: 0 },
      sender: { services: 9n, ip: new Uint8Array(16), port: 0 },
      nonce: 0x1234_5678_9abc_def0n,
      userAgent: '/test-peer:1.0/',
      startHeight: 7,
      relay: true,
      ...overrides,
    },
  };
}

/** A scripted peer speaking our codec over a real TCP connection. */
export class TestPeer {
  readonly received: Message[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private readonly decoder: FrameDecoder;
  private waiters: { command: string; resolve: (m: Message) => void }[] = [];

  private constructor(
    readonly socket: Socket,
    readonly network: Network,
  ) {
    this.decoder = new FrameDecoder({ network });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      for (const item of this.decoder.push(new Uint8Array(chunk))) {
        if (item.type !== 'frame') continue;
        const m = decodeMessage(item.frame.command, item.frame.payload);
        this.received.push(m);
        this.waiters = this.waiters.filter((w) => {
          if (w.command !== m.command) return true;
          w.resolve(m);
          return false;
        });
      }
    });
  }

  static fromSocket(socket: Socket, network: Network = REGTEST): TestPeer {
    return new TestPeer(socket, network);
  }

  static async connect(port: number, options: { localAddress?: string; network?: Network } = {}): Promise<TestPeer> {
    const socket = connect({ host: '127.0.0.1', port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    await once(socket, 'connect');
    return new TestPeer(socket, options.network ?? REGTEST);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** The `conn.remote` the observer reports for this peer. */
  get remote(): string {
    return `${this.socket.localAddress}:${this.socket.localPort}`;
  }

  send(...messages: Message[]): void {
    for (const m of messages) this.socket.write(encodeMessageFrame(this.network, m));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The first message with this command (already received or future). */
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

  /** Full handshake as an inbound peer: our version, wait for theirs and verack, then verack. */
  async handshake(version: Message = versionMessage()): Promise<void> {
    this.send(version);
    await this.waitFor('version');
    await this.waitFor('verack');
    this.send({ command: 'verack', payload: {} });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resolve when `check` is true, polling; reject after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function commandsOf(messages: Message[]): string[] {
  return messages.map((m) => m.command);
}
