/**
 * Ephemeral BIP324 keys made ahead on another thread. A v2 handshake's
 * responder side costs about 2 ms of CPU, and 40 % of it is our own key pair
 * and its ElligatorSwift encoding (docs/benchmarks.md), which do not depend on
 * the peer; making them on a worker thread takes that share off the event loop
 * that serves every other peer, and lets a handshake flood use the second core.
 *
 * Each key is used once (BIP324 keys are per connection). The pool holds at
 * most `size` keys and asks the thread for more when it is half empty; when
 * it is empty (a burst) or the thread has failed, the key is made inline as
 * before, and counted. Core makes its key inline in V2Transport's constructor;
 * the keys are the same, only where they are computed differs.
 */
import type { Worker } from 'node:worker_threads';
import { ellswiftCreate, type EllSwiftKey } from '../../protocol/v2/ellswift.js';
import { siblingModule, startModuleWorker } from '../../threads/worker.js';
import type { KeyRequest } from './v2-keys-thread.js';

export const DEFAULT_KEY_POOL_SIZE = 64;
/** How long close() waits for the thread to end. */
const CLOSE_WAIT_MS = 1000;

export interface V2KeyPoolCounters {
  /** Keys taken from the pool. */
  pooled: number;
  /** Keys made inline on the event loop: the pool was empty or its thread had failed. */
  inline: number;
  /** The thread's failure, when it failed (then every key is made inline). */
  failure?: string;
}

export class V2KeyPool {
  private readonly stock: EllSwiftKey[] = [];
  /** Keys asked of the thread and not yet received. */
  private requested = 0;
  private worker: Worker | undefined;
  private failure: string | undefined;
  private pooled = 0;
  private inline = 0;

  constructor(
    private readonly size = DEFAULT_KEY_POOL_SIZE,
    entry: URL = siblingModule(import.meta.url, 'v2-keys-thread'),
  ) {
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`key pool size ${size}: an integer ≥ 2`);
    try {
      const worker = startModuleWorker(entry, null);
      worker.unref();
      worker.on('message', (key: EllSwiftKey) => this.received(key));
      worker.on('error', (e) => this.failed(e.message));
      worker.on('messageerror', (e) => this.failed(`unreadable message: ${e.message}`));
      worker.on('exit', (code) => this.failed(`thread exited with code ${code}`));
      this.worker = worker;
    } catch (e) {
      this.failed((e as Error).message);
    }
    this.refill();
  }

  /** A key for one connection: from the pool, else made now. */
  take(): EllSwiftKey {
    const key = this.stock.pop();
    this.refill();
    if (key) {
      this.pooled++;
      return key;
    }
    this.inline++;
    return ellswiftCreate();
  }

  /** Keys ready now. */
  get ready(): number {
    return this.stock.length;
  }

  counters(): V2KeyPoolCounters {
    return { pooled: this.pooled, inline: this.inline, ...(this.failure ? { failure: this.failure } : {}) };
  }

  /** Stops the thread and drops the keys it made. Idempotent. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.stock.length = 0;
    this.requested = 0;
    if (worker) {
      worker.removeAllListeners('exit');
      // The thread is unref'd: it never holds the process open, so a terminate that does not settle
      // (seen under heavy CPU contention) must not hold up the observer's stop either.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([worker.terminate(), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS).unref()))]);
      clearTimeout(timer);
    }
  }

  private received(key: EllSwiftKey): void {
    this.requested = Math.max(0, this.requested - 1);
    if (this.worker && this.stock.length < this.size) this.stock.push(key);
  }

  /** Asks for keys when the pool and what is on its way are at most half of its size. */
  private refill(): void {
    if (!this.worker) return;
    const have = this.stock.length + this.requested;
    if (have > this.size / 2) return;
    const make = this.size - have;
    this.requested += make;
    this.worker.postMessage({ make } satisfies KeyRequest);
  }

  private failed(reason: string): void {
    if (!this.worker && this.failure) return;
    this.failure ??= reason;
    // An unreadable message leaves the thread running: end it, since nothing will ask it for keys again.
    void this.worker?.terminate();
    this.worker = undefined;
    this.requested = 0;
  }
}
