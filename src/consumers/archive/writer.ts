/**
 * The archive's writer thread: the one connection that writes the SQLite file.
 * It runs in a worker_threads Worker (started by writer-client.ts through
 * threads/bootstrap.mjs, which loads this TypeScript module via tsx) and serves
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
import { ArchiveStore, ROW_OVERHEAD_BYTES, type RowBatch } from './store.js';

export interface WriterInit {
  dataDir: string;
  /** The size cap: the database and its write-ahead log on disk stay under this many bytes (null: no cap). */
  maxBytes: number | null;
}

/**
 * How a cap is kept (docs/archive.md, "Size cap"): the write-ahead log is checkpointed and cut back to `walBytes`
 * (so it holds at most that plus one transaction), and the database's pages in use are kept under `pageBudget` =
 * cap − walBytes by deleting the oldest events in each batch's own transaction, before its rows go in, to make room
 * for them. So the files never pass the cap by more than one batch.
 */
export function capPlan(maxBytes: number, pageSize: number): { walBytes: number; pageBudget: number; walPages: number } {
  const walBytes = Math.min(16 * 1024 * 1024, Math.max(4 * pageSize, Math.floor(maxBytes / 16)));
  return { walBytes, walPages: Math.max(1, Math.floor(walBytes / pageSize)), pageBudget: Math.max(0, maxBytes - walBytes) };
}

/** What a batch's rows are estimated to take in pages: their envelopes, plus filter columns and index entries. */
export function batchEstimate(batch: RowBatch): number {
  return batch.envelopes.byteLength + batch.count * ROW_OVERHEAD_BYTES;
}

export type WriterRequest =
  | { kind: 'rows'; id: number; batch: RowBatch }
  | { kind: 'commit'; id: number }
  | { kind: 'retain'; id: number; cutoffUs: number | null }
  | { kind: 'close'; id: number };

export type WriterDone =
  | { kind: 'done'; id: number; ok: true; pruned: number; fileBytes: number; retentionError?: string }
  | { kind: 'done'; id: number; ok: false; error: string; fileBytes: number; code?: string };

export type WriterMessage = { kind: 'ready' } | WriterDone;

/** Retention by age (when a cutoff is given) and by size (when capped); what it deleted, and why it stopped if it failed. */
function retain(store: ArchiveStore, pageBudget: number | null, cutoffUs: number | null): { pruned: number; error?: string } {
  let pruned = 0;
  try {
    if (cutoffUs !== null) pruned += store.pruneOlderThan(cutoffUs).deleted;
    // Over the budget (a file from before the cap, or a lower one): down to 90 % of it, and the file shrunk.
    if (pageBudget !== null) pruned += store.pruneToSize(pageBudget).deleted;
  } catch (e) {
    return { pruned, error: (e as Error).message };
  }
  return { pruned };
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Serves one connection's requests; `post` sends each answer. */
export class Writer {
  /** The batch whose transaction is open, with the error that undid it if inserting failed (its later rows are skipped). */
  private open: { id: number; error?: string; code?: string | undefined; pruned: number } | undefined;
  /** Pages in use are kept under this (capPlan), or null. */
  private readonly pageBudget: number | null;
  /** Requests that came while another batch's transaction was open, in order. */
  private waiting: WriterRequest[] = [];

  constructor(
    private readonly store: ArchiveStore,
    private readonly init: WriterInit,
    private readonly post: (done: WriterDone) => void,
  ) {
    if (init.maxBytes === null) this.pageBudget = null;
    else {
      const plan = capPlan(init.maxBytes, store.pageSizeBytes);
      this.pageBudget = plan.pageBudget;
      // Checkpoint once the log holds walBytes, and cut it back to that size when it restarts.
      store.db.pragma(`wal_autocheckpoint = ${plan.walPages}`);
      store.db.pragma(`journal_size_limit = ${plan.walBytes}`);
    }
  }

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
          this.open = { id: req.id, pruned: 0 };
          try {
            this.store.beginBatch();
          } catch (e) {
            this.open.error = (e as Error).message;
            this.open.code = codeOf(e);
          }
        }
        if (this.open.error !== undefined) return;
        try {
          const budget = this.pageBudget;
          // Room first (the oldest events go, in this transaction), then the rows; if they took more than estimated,
          // more of the oldest go before the commit.
          if (budget !== null) this.open.pruned += this.store.pruneUsedTo(Math.max(0, budget - batchEstimate(req.batch)));
          this.store.insertRows(req.batch);
          if (budget !== null) this.open.pruned += this.store.pruneUsedTo(budget);
        } catch (e) {
          this.store.rollbackBatch();
          this.open.pruned = 0;
          this.open.error = (e as Error).message;
          this.open.code = codeOf(e);
        }
        return;
      }
      case 'commit': {
        const open = this.open;
        this.open = undefined;
        if (!open) this.post(this.failed(req.id, 'archive writer: commit of a batch without rows'));
        else if (open.error !== undefined) this.post(this.failed(req.id, open.error, open.code));
        else this.post(this.commit(req.id, open.pruned));
        return;
      }
      case 'retain': {
        const r = retain(this.store, this.pageBudget, req.cutoffUs);
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

  private commit(id: number, pruned: number): WriterDone {
    try {
      this.store.commitBatch();
    } catch (e) {
      return this.failed(id, (e as Error).message, codeOf(e));
    }
    return this.ok(id, pruned, undefined);
  }

  private ok(id: number, pruned: number, retentionError: string | undefined): WriterDone {
    return { kind: 'done', id, ok: true, pruned, fileBytes: fileBytes(this.init.dataDir), ...(retentionError ? { retentionError } : {}) };
  }

  private failed(id: number, error: string, code?: string): WriterDone {
    return { kind: 'done', id, ok: false, error, fileBytes: fileBytes(this.init.dataDir), ...(code !== undefined ? { code } : {}) };
  }
}

/**
 * The thread's entry (called by threads/bootstrap.mjs with the Worker's workerData.init). `make` builds the Writer
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
