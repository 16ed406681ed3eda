/**
 * Outbound dialling of one target: connect with a timeout, hand the socket over,
 * and when the connection fails or later drops, dial again after a capped
 * exponential backoff (with a little jitter, so many observers restarting at once
 * do not dial in lockstep). A connection that completed its handshake resets the
 * backoff.
 */
import { connect, type Socket } from 'node:net';
import { describeSocketError, type Endpoint } from './listener.js';

export interface DialerOptions {
  connectTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface DialerHooks {
  /** A dial is about to start. */
  onAttempt(): void;
  /** Connected: the owner takes the socket and later calls `dropped()`. */
  onConnected(socket: Socket): void;
  /** The dial failed before the TCP connection opened. */
  onFailed(detail: string, elapsedMs: number): void;
}

export function backoffDelay(
  failures: number,
  options: Pick<DialerOptions, 'initialBackoffMs' | 'maxBackoffMs'>,
  random = Math.random,
): number {
  const base = options.initialBackoffMs * 2 ** Math.min(failures, 30);
  return Math.min(options.maxBackoffMs, Math.round(base * (1 + 0.25 * random())));
}

export class Dialer {
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private socket: Socket | undefined;
  private stopped = false;

  constructor(
    readonly target: Endpoint,
    private readonly options: DialerOptions,
    private readonly hooks: DialerHooks,
  ) {}

  start(): void {
    this.dial();
  }

  /** The connection we handed over has ended; dial again later. */
  dropped(handshakeComplete: boolean): void {
    this.socket = undefined;
    if (handshakeComplete) this.failures = 0;
    this.retry();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket = undefined;
  }

  private retry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.failures, this.options);
    this.failures++;
    this.timer = setTimeout(() => this.dial(), delay).unref();
  }

  private dial(): void {
    if (this.stopped) return;
    this.hooks.onAttempt();
    const started = performance.now();
    let settled = false;
    const socket = connect({ host: this.target.host, port: this.target.port });
    this.socket = socket;
    const fail = (detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      socket.destroy();
      if (this.stopped) return;
      this.hooks.onFailed(detail, performance.now() - started);
      this.retry();
    };
    const timeout = setTimeout(
      () => fail(`no connection after ${this.options.connectTimeoutMs} ms`),
      this.options.connectTimeoutMs,
    ).unref();
    socket.once('error', (error) => fail(describeSocketError(error)));
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      if (this.stopped) {
        socket.destroy();
        return;
      }
      this.hooks.onConnected(socket);
    });
  }
}
