/**
 * The consumer's side of the writer thread (writer.ts): starts the Worker,
 * sends it requests, resolves each with the thread's answer, and keeps a
 * writer running.
 *
 * A batch is sent (`add`) as soon as the consumer has filled it, and
 * committed when the consumer asks (`commit`), which it does once it has
 * acknowledged the batch before. The thread inserts a batch as soon as it has
 * committed the previous one, so it does not wait for the round trip between
 * batches; and at most one batch is ever committed past the last
 * acknowledgement.
 *
 * Failure policy: when the thread dies (an uncaught exception, an exit, a
 * message it could not read), the commit it had been asked for resolves as
 * failed (`died`), and so do retention requests; a batch sent ahead, whose
 * commit was not asked for yet, goes to the next thread (it was never
 * committed). The thread inserts a batch sent ahead only after answering the
 * commit before it, and that answer makes the consumer ask for this batch's
 * commit, so a batch that kills the thread is almost always the one whose
 * commit fails; at worst (the answer and the exit seen together) it kills one
 * more thread, whose death fails it for good. A new thread is started after a
 * delay that doubles with each death in a row (100 ms, 200 ms, ... 1.6 s); an
 * answer that succeeds resets the count. After WRITER_RESTARTS restarts in a
 * row that all died, the writer stops: every commit from then on resolves
 * failed (`stopped`) at once, so the consumer keeps taking events from the bus
 * and counts them as failed rather than stall the bus.
 *
 * The Worker holds the process open only while it is starting, closing, or
 * has requests outstanding, as a pending timer would; an idle archive does not.
 */
import type { Worker } from 'node:worker_threads';
import { siblingModule, startModuleWorker } from '../../threads/worker.js';
import type { RowBatch } from './store.js';
import type { WriterInit, WriterMessage, WriterRequest } from './writer.js';

/** Restarts in a row (each thread died before any request succeeded) before the writer stops. */
export const WRITER_RESTARTS = 5;
/** Delay before the first restart; doubled for each further death in a row. */
export const WRITER_RESTART_DELAY_MS = 100;

const ENTRY = siblingModule(import.meta.url, 'writer');

export type WriterOutcome =
  | { ok: true; pruned: number; fileBytes: number; retentionError?: string }
  | { ok: false; error: string; fileBytes?: number; died?: true; stopped?: true; code?: string };

export interface WriterClientOptions {
  init: WriterInit;
  /** The module the thread runs (default ./writer.ts); it must export `main(init)` as writer.ts does. */
  entry?: URL;
  /** A thread died: why, and what happens next (restart or stop). */
  onDeath: (message: string) => void;
}

export class WriterClient {
  private worker: Worker | undefined;
  /** Answers awaited from the current thread (commits, retention, close), by request id. */
  private readonly pending = new Map<number, (outcome: WriterOutcome) => void>();
  /** Batches sent whose commit has not been asked for: sent again if the thread dies. */
  private readonly uncommitted = new Map<number, RowBatch>();
  /** Requests made while no thread runs (restart delay), sent when the next one starts. */
  private queued: WriterRequest[] = [];
  private nextId = 1;
  private deathsInARow = 0;
  private lastError: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closing = false;
  private isReady = false;
  private resolveReady!: () => void;
  private resolveClosed: (() => void) | undefined;
  /** Resolves once a thread has opened the file (or the writer stopped or closed first). */
  readonly ready: Promise<void>;

  constructor(private readonly options: WriterClientOptions) {
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.spawn();
  }

  /** Send a batch: the thread inserts it as soon as it can, and commits it at commit(id). Returns its id. */
  add(batch: RowBatch): number {
    const id = this.nextId++;
    if (this.stopped || this.closing) return id;
    this.uncommitted.set(id, batch);
    this.send({ kind: 'rows', id, batch });
    return id;
  }

  /** Commit batch `id`. */
  commit(id: number): Promise<WriterOutcome> {
    this.uncommitted.delete(id);
    return this.request({ kind: 'commit', id });
  }

  retain(cutoffUs: number | null): Promise<WriterOutcome> {
    return this.request({ kind: 'retain', id: this.nextId++, cutoffUs });
  }

  /**
   * Close the file and end the thread, after every request made before. Resolves when the thread has exited,
   * with the file's size on disk as the thread last saw it (undefined when no thread was running).
   */
  close(): Promise<number | undefined> {
    if (this.closing) return Promise.resolve(undefined);
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.markReady();
    const worker = this.worker;
    if (!worker) {
      // Waiting to restart, or stopped: nothing will run what is left (the consumer waits for its batches first).
      this.queued = [];
      this.uncommitted.clear();
      this.failPending({ ok: false, error: 'archive writer: closed', stopped: true });
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const id = this.nextId++;
      let bytes: number | undefined;
      this.pending.set(id, (outcome) => (bytes = outcome.fileBytes));
      this.resolveClosed = () => resolve(bytes);
      worker.ref();
      worker.postMessage({ kind: 'close', id } satisfies WriterRequest);
    });
  }

  private request(req: WriterRequest): Promise<WriterOutcome> {
    if (this.stopped) return Promise.resolve({ ok: false, error: 'archive writer stopped', stopped: true });
    if (this.closing) return Promise.resolve({ ok: false, error: 'archive writer: closed', stopped: true });
    return new Promise((resolve) => {
      this.pending.set(req.id, resolve);
      this.send(req);
    });
  }

  private send(req: WriterRequest): void {
    if (!this.worker) {
      this.queued.push(req);
      this.restartTimer?.ref();
      return;
    }
    this.worker.postMessage(req);
    this.updateRef();
  }

  private spawn(): void {
    this.restartTimer = undefined;
    this.lastError = undefined;
    let worker: Worker;
    try {
      worker = startModuleWorker(this.options.entry ?? ENTRY, this.options.init);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.died(undefined);
      return;
    }
    this.worker = worker;
    worker.on('message', (m: WriterMessage) => this.onMessage(worker, m));
    worker.on('error', (e) => (this.lastError = e.message));
    worker.on('messageerror', (e) => {
      this.lastError = `unreadable message: ${e.message}`;
      void worker.terminate();
    });
    worker.on('exit', (code) => this.onExit(worker, code));
    const queued = this.queued;
    this.queued = [];
    for (const req of queued) worker.postMessage(req);
  }

  private onMessage(worker: Worker, m: WriterMessage): void {
    if (worker !== this.worker) return;
    if (m.kind === 'ready') {
      this.markReady();
      this.updateRef();
      return;
    }
    const resolve = this.pending.get(m.id);
    if (!resolve) return;
    this.pending.delete(m.id);
    if (m.ok) this.deathsInARow = 0;
    this.updateRef();
    resolve(
      m.ok ? { ok: true, pruned: m.pruned, fileBytes: m.fileBytes, ...(m.retentionError ? { retentionError: m.retentionError } : {}) } : m,
    );
  }

  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    const why = this.lastError ?? `exited with code ${code}`;
    if (this.closing) {
      if (this.pending.size > 0) {
        // Died before closing the file: nothing more will be written; SQLite recovers the file at the next open.
        this.options.onDeath(`archive writer thread died while closing (${why})`);
        this.failPending({ ok: false, error: `archive writer thread died: ${why}`, died: true });
      }
      this.resolveClosed?.();
      return;
    }
    this.died(why);
  }

  private died(why = this.lastError ?? 'could not start'): void {
    this.deathsInARow++;
    // The commit asked for is lost; batches sent ahead, whose commit was not asked for yet, go to the next thread.
    const unanswered = [...this.pending.values()];
    this.pending.clear();
    this.queued = [...this.uncommitted].map(([id, batch]): WriterRequest => ({ kind: 'rows', id, batch }));
    if (this.deathsInARow > WRITER_RESTARTS) {
      this.stopped = true;
      this.queued = [];
      this.uncommitted.clear();
      this.options.onDeath(
        `archive writer thread died (${why}), ${this.deathsInARow} times in a row: archiving stopped, events from now on are counted as failed`,
      );
      this.markReady();
    } else {
      const delay = WRITER_RESTART_DELAY_MS * 2 ** (this.deathsInARow - 1);
      this.options.onDeath(`archive writer thread died (${why}); starting a new one in ${delay} ms`);
      this.restartTimer = setTimeout(() => this.spawn(), delay);
      if (this.isReady && this.queued.length === 0) this.restartTimer.unref();
    }
    for (const resolve of unanswered) resolve({ ok: false, error: `archive writer thread died: ${why}`, died: true });
  }

  private failPending(outcome: WriterOutcome): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const resolve of pending) resolve(outcome);
  }

  private markReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    this.resolveReady();
  }

  /** Hold the process open while starting, closing or while answers are awaited, as a pending timer would. */
  private updateRef(): void {
    if (!this.worker) return;
    if (!this.isReady || this.closing || this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}
