/**
 * The archive's writer thread: the one connection that writes the SQLite file.
 * It runs in a worker_threads Worker (started by writer-client.ts through
 * writer-thread.mjs, which loads this TypeScript module via tsx) and serves
 * the consumer's requests in order:
 *
 * - `rows`: a batch, inserted at once in its own transaction, left open;
 * - `commit`: commit that batch, then retention by size if the file went over
 *   its maximum. The consumer sends the next batch while this thread still
 *   commits the previous one, and asks for its commit only once it has
 *   acknowledged the previous one: the thread does not wait for the round
 *   trip, and no batch is committed past one that is not acknowledged;
 * - `retain`: retention by age (the cutoff is computed by the consumer, which
 *   owns the clock) and by size;
 * - `close`: the file's size, then close it; the thread then ends.
 *
 * One transaction is open at a time: what comes while a batch waits for its
 * commit (retention) waits for it. `commit`, `retain` and `close` get one
 * `done` message back each, with the file's size on disk. A batch that SQLite
 * refuses (disk full, I/O error) is answered `ok: false` and the thread keeps
 * serving; anything that escapes kills the thread, which the consumer's side
 * counts and restarts.
 *
 * Only db.ts and store.ts are imported here, so the thread starts quickly.
 */
import { parentPort } from 'node:worker_threads';
import { fileBytes, openArchiveForWriting } from './db.js';
import { ArchiveStore, type RowBatch } from './store.js';

export interface WriterInit {
  dataDir: string;
  /** Retention by size: keep the pages in use under this many bytes (null: no bound). */
  maxBytes: number | null;
}

export type WriterRequest =
  | { kind: 'rows'; id: number; batch: RowBatch }
  | { kind: 'commit'; id: number }
  | { kind: 'retain'; id: number; cutoffUs: number | null }
  | { kind: 'close'; id: number };

export type WriterDone =
  | { kind: 'done'; id: number; ok: true; pruned: number; fileBytes: number; retentionError?: string }
  | { kind: 'done'; id: number; ok: false; error: string; fileBytes: number };

export type WriterMessage = { kind: 'ready' } | WriterDone;

/** Retention by age (when a cutoff is given) and by size (when bounded); what it deleted, and why it stopped if it failed. */
function retain(store: ArchiveStore, init: WriterInit, cutoffUs: number | null): { pruned: number; error?: string } {
  let pruned = 0;
  try {
    if (cutoffUs !== null) pruned += store.pruneOlderThan(cutoffUs).deleted;
    if (init.maxBytes !== null) pruned += store.pruneToSize(init.maxBytes).deleted;
  } catch (e) {
    return { pruned, error: (e as Error).message };
  }
  return { pruned };
}

/** Serves one connection's requests; `post` sends each answer. */
export class Writer {
  /** The batch whose transaction is open, with the error that undid it if inserting failed (its later rows are skipped). */
  private open: { id: number; error?: string } | undefined;
  /** Requests that came while another batch's transaction was open, in order. */
  private waiting: WriterRequest[] = [];

  constructor(
    private readonly store: ArchiveStore,
    private readonly init: WriterInit,
    private readonly post: (done: WriterDone) => void,
  ) {}

  handle(req: WriterRequest): void {
    if (this.open && this.open.id !== req.id && req.kind !== 'close') {
      this.waiting.push(req);
      return;
    }
    this.serve(req);
    if (req.kind === 'commit') {
      const waiting = this.waiting;
      this.waiting = [];
      for (const r of waiting) this.handle(r);
    }
  }

  /** Serve one request (tests override it to fail on purpose). */
  protected serve(req: WriterRequest): void {
    switch (req.kind) {
      case 'rows': {
        if (!this.open) {
          this.open = { id: req.id };
          try {
            this.store.beginBatch();
          } catch (e) {
            this.open.error = (e as Error).message;
          }
        }
        if (this.open.error !== undefined) return;
        try {
          this.store.insertRows(req.batch);
        } catch (e) {
          this.store.rollbackBatch();
          this.open.error = (e as Error).message;
        }
        return;
      }
      case 'commit': {
        const open = this.open;
        this.open = undefined;
        if (!open) this.post(this.failed(req.id, 'archive writer: commit of a batch without rows'));
        else if (open.error !== undefined) this.post(this.failed(req.id, open.error));
        else this.post(this.commit(req.id));
        return;
      }
      case 'retain': {
        const r = retain(this.store, this.init, req.cutoffUs);
        this.post(this.ok(req.id, r.pruned, r.error));
        return;
      }
      case 'close': {
        // The consumer closes once every batch is answered; a batch still open here was never to be committed.
        this.store.rollbackBatch();
        this.open = undefined;
        this.waiting = [];
        const bytes = fileBytes(this.init.dataDir);
        this.store.close();
        this.post({ kind: 'done', id: req.id, ok: true, pruned: 0, fileBytes: bytes });
        return;
      }
    }
  }

  private commit(id: number): WriterDone {
    try {
      this.store.commitBatch();
    } catch (e) {
      return this.failed(id, (e as Error).message);
    }
    const maxBytes = this.init.maxBytes;
    const r = maxBytes !== null && this.store.usedBytes() > maxBytes ? retain(this.store, this.init, null) : { pruned: 0 };
    return this.ok(id, r.pruned, r.error);
  }

  private ok(id: number, pruned: number, retentionError: string | undefined): WriterDone {
    return { kind: 'done', id, ok: true, pruned, fileBytes: fileBytes(this.init.dataDir), ...(retentionError ? { retentionError } : {}) };
  }

  private failed(id: number, error: string): WriterDone {
    return { kind: 'done', id, ok: false, error, fileBytes: fileBytes(this.init.dataDir) };
  }
}

/**
 * The thread's entry (called by writer-thread.mjs with the Worker's workerData.init). `make` builds the Writer
 * (tests: one that fails on purpose).
 */
export function main(
  init: WriterInit,
  make: (store: ArchiveStore, post: (done: WriterDone) => void) => Writer = (store, post) => new Writer(store, init, post),
): void {
  const port = parentPort;
  if (!port) throw new Error('archive writer: not in a worker thread');
  const writer = make(new ArchiveStore(openArchiveForWriting(init.dataDir)), (done) => port.postMessage(done satisfies WriterMessage));
  port.on('message', (req: WriterRequest) => {
    writer.handle(req);
    if (req.kind === 'close') port.close();
  });
  port.postMessage({ kind: 'ready' } satisfies WriterMessage);
}
