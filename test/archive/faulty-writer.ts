/**
 * Test-only: the archive's writer thread (src/consumers/archive/writer.ts)
 * made to fail for real, through startArchive's `writerModule` option:
 *
 * - a batch holding an event of node `die:exit` ends the thread
 *   (process.exit(7)) while the thread inserts it;
 * - one holding `die:throw` makes the thread throw an uncaught exception;
 * - one holding `die:commit` ends the thread when asked to commit it, after
 *   200 ms (so the consumer has sent the next batch ahead meanwhile);
 * - a file `max-page-count` in the data dir caps the database at that many
 *   pages on the thread's connection (PRAGMA max_page_count): SQLite then
 *   refuses batches as it would on a full disk, and the thread lives on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main as writerMain, Writer, type WriterInit, type WriterRequest } from '../../src/consumers/archive/writer.js';

class FaultyWriter extends Writer {
  private dieAtCommit = -1;

  protected override serve(req: WriterRequest): void {
    if (req.kind === 'rows' && req.batch.columns.includes('die:exit')) process.exit(7);
    if (req.kind === 'rows' && req.batch.columns.includes('die:throw')) throw new Error('injected failure');
    if (req.kind === 'rows' && req.batch.columns.includes('die:commit')) this.dieAtCommit = req.id;
    if (req.kind === 'commit' && req.id === this.dieAtCommit) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      process.exit(8);
    }
    super.serve(req);
  }
}

export function main(init: WriterInit): void {
  writerMain(init, (store, post) => {
    let maxPages: string | undefined;
    try {
      maxPages = readFileSync(join(init.dataDir, 'max-page-count'), 'utf8').trim();
    } catch {
      // not capped
    }
    if (maxPages) store.db.pragma(`max_page_count = ${Number(maxPages)}`);
    return new FaultyWriter(store, init, post);
  });
}
