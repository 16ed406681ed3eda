/**
 * Outbound dialling of one target: connect with a timeout, hand the socket over,
 * and when the connection fails or later drops, dial again after a capped
 * exponential backoff (with a little jitter, so many observers restarting at once
 * do not dial in lockstep). A connection that completed its handshake resets the
 * backoff. It never gives up: a target is dialled until stop(), and the retry
 * timer is a live (ref'd) handle, so a process whose only work is redialling an
 * unreachable peer stays up instead of ending with an empty event loop.
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
  /** The dial failed before the TCP connection opened; the next attempt (number `attempt + 1`) is in `retryInMs`. */
  onFailed(detail: string, elapsedMs: number, retry: { attempt: number; retryInMs: number }): void;
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
  /** Dials since the last completed handshake (1 for the first). */
  private attempts = 0;
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
    if (handshakeComplete) {
      this.failures = 0;
      this.attempts = 0;
    }
    this.retry(this.nextDelay());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket = undefined;
  }

  private nextDelay(): number {
    const delay = backoffDelay(this.failures, this.options);
    this.failures = Math.min(this.failures + 1, 64);
    return delay;
  }

  /** Not unref()'d: a pending redial is work that keeps the process alive (issue 12). */
  private retry(delay: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dial(), delay);
  }

  private dial(): void {
    if (this.stopped) return;
    this.attempts++;
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
      const delay = this.nextDelay();
      this.hooks.onFailed(detail, performance.now() - started, { attempt: this.attempts, retryInMs: delay });
      this.retry(delay);
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
