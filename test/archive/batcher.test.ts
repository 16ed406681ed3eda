/**
 * The archive's state machine (batcher.ts's ArchiveBatcher) without a bus or a
 * writer thread: batches by size and by bytes, the flush timer, a failed
 * commit counted and the next batch still going, back-pressure of one batch in
 * flight and one sent, retention requests, and end() draining what was taken.
 *
 * The writer is a fake (FakeWriter below), on purpose: these tests decide when
 * each commit is answered and how, which a real thread cannot be made to do
 * deterministically. It decodes every batch it is given (the rows' envelopes,
 * as the real writer would insert them), so what reaches it is checked row by
 * row. The real writer thread and SQLite are exercised by archive.test.ts,
 * writer.test.ts and crash.test.ts through startArchive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArchiveBatcher, type ArchiveWriter, type BatcherOptions } from '../../src/consumers/archive/batcher.js';
import type { RowBatch } from '../../src/consumers/archive/store.js';
import type { WriterOutcome } from '../../src/consumers/archive/writer-client.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { message, seqOf } from './events.js';

const OK: WriterOutcome = { ok: true, pruned: 0, fileBytes: 8192 };
const utf8 = new TextDecoder();

/** The sequence numbers (events.ts's message()) of a batch's rows, decoded from its envelopes; -1 for an aggregate. */
function seqsOf(batch: RowBatch): number[] {
  const seqs: number[] = [];
  let start = 0;
  for (let i = 0; i < batch.count; i++) {
    const end = batch.ends[i]!;
    const row = JSON.parse(utf8.decode(batch.envelopes.subarray(start, end))) as ObserverEvent | { aggregate: unknown };
    seqs.push('aggregate' in row ? -1 : seqOf(row));
    start = end;
  }
  return seqs;
}

class FakeWriter implements ArchiveWriter {
  /** Batches sent (add), in order: their id, rows (by sequence number) and envelope bytes. */
  readonly added: { id: number; seqs: number[]; bytes: number }[] = [];
  /** Commits asked for, in order (by batch id). */
  readonly commitsAsked: number[] = [];
  readonly retains: (number | null)[] = [];
  closes = 0;
  private nextId = 1;
  private readonly waiting: { id: number; resolve: (r: WriterOutcome) => void }[] = [];

  add(batch: RowBatch): number {
    const id = this.nextId++;
    this.added.push({ id, seqs: seqsOf(batch), bytes: batch.ends[batch.count - 1] ?? 0 });
    return id;
  }

  commit(id: number): Promise<WriterOutcome> {
    this.commitsAsked.push(id);
    return new Promise((resolve) => this.waiting.push({ id, resolve }));
  }

  retain(cutoffUs: number | null): Promise<WriterOutcome> {
    this.retains.push(cutoffUs);
    return Promise.resolve({ ok: true, pruned: 7, fileBytes: 4096 });
  }

  close(): Promise<number | undefined> {
    this.closes++;
    return Promise.resolve(12_345);
  }

  /** Commits asked for and not yet answered. */
  get unanswered(): number {
    return this.waiting.length;
  }

  /**
   * Answer the oldest commit asked for (it must be asked within a few turns of the event loop: end() asks after
   * awaiting), then let its callbacks run. Returns its batch id.
   */
  async answer(outcome: WriterOutcome = OK): Promise<number> {
    for (let i = 0; i < 5 && this.waiting.length === 0; i++) await tick();
    const w = this.waiting.shift();
    assert.ok(w, 'no commit is waiting for an answer');
    w.resolve(outcome);
    await tick();
    return w.id;
  }
}

/** Let promise callbacks and immediates run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function batcher(options: Partial<BatcherOptions> = {}) {
  const writer = new FakeWriter();
  const errors: string[] = [];
  const commits: { events: number; lastSeq: number }[] = [];
  const b = new ArchiveBatcher(
    {
      batchSize: 3,
      batchMaxBytes: 1 << 30,
      flushMs: 60_000,
      foldRate: 0,
      capBytes: 0,
      retentionIntervalMs: 60_000,
      onError: (e) => errors.push(e.message),
      onCommit: ({ events, last }) => commits.push({ events, lastSeq: seqOf(last) }),
      ...options,
    },
    writer,
  );
  return { b, writer, errors, commits };
}

/** Whether `p` has settled after callbacks ran. */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
  if (!p) return true;
  let done = false;
  void p.then(() => (done = true));
  await tick();
  return done;
}

describe('ArchiveBatcher', () => {
  it('sends a batch every batchSize events, in order, and counts what was committed', async () => {
    const { b, writer, commits } = batcher({ batchSize: 3 });
    for (let i = 0; i < 2; i++) assert.equal(b.take(message(i)), undefined);
    assert.equal(writer.added.length, 0, 'two of three: nothing sent yet');
    assert.equal(b.take(message(2)), undefined);
    assert.deepEqual(
      writer.added.map((a) => a.seqs),
      [[0, 1, 2]],
    );
    assert.deepEqual(writer.commitsAsked, [1], 'the first batch is committed at once');
    assert.equal((await writer.answer()) as number, 1);
    assert.deepEqual(commits, [{ events: 3, lastSeq: 2 }]);
    const c = b.counters();
    assert.equal(c.received, 3);
    assert.equal(c.written, 3);
    assert.equal(c.batches, 1);
    assert.equal(c.failed, 0);
    assert.equal(c.fileBytes, 8192, 'the size the writer reported with the commit');
    await b.end();
    assert.equal(writer.closes, 1);
    assert.equal(b.counters().fileBytes, 12_345, 'the size the writer reported at close');
  });

  it('sends a batch once its envelopes reach batchMaxBytes, however few events it holds', async () => {
    const { b, writer } = batcher({ batchSize: 1000, batchMaxBytes: 3000 });
    // Each envelope is ≈ 1.3 KB (1 KB of padding): the third takes the batch over 3000 bytes.
    b.take(message(0, { pad: 1000 }));
    b.take(message(1, { pad: 1000 }));
    assert.equal(writer.added.length, 0);
    b.take(message(2, { pad: 1000 }));
    assert.equal(writer.added.length, 1);
    assert.deepEqual(writer.added[0]!.seqs, [0, 1, 2]);
    assert.ok(writer.added[0]!.bytes >= 3000, `${writer.added[0]!.bytes} bytes`);
    b.take(message(3, { pad: 10 }));
    assert.equal(writer.added.length, 1, 'a small event starts the next batch');
    const ended = b.end();
    await writer.answer();
    await writer.answer();
    await ended;
    assert.deepEqual(
      writer.added.map((a) => a.seqs),
      [[0, 1, 2], [3]],
    );
    assert.equal(b.counters().written, 4);
  });

  it('sends a batch flushMs after its first event, and one that fell due while another was in flight once it is answered', async () => {
    const { b, writer, commits } = batcher({ batchSize: 100, flushMs: 30 });
    b.take(message(0));
    b.take(message(1));
    assert.equal(writer.added.length, 0);
    await sleep(80);
    assert.deepEqual(
      writer.added.map((a) => a.seqs),
      [[0, 1]],
    );
    assert.deepEqual(writer.commitsAsked, [1]);
    // Falls due while the first is in flight: not sent until the first is answered.
    b.take(message(2));
    await sleep(80);
    assert.equal(writer.added.length, 1, 'due, but one is in flight');
    await writer.answer();
    assert.deepEqual(
      writer.added.map((a) => a.seqs),
      [[0, 1], [2]],
    );
    assert.deepEqual(writer.commitsAsked, [1, 2]);
    await writer.answer();
    assert.deepEqual(commits, [
      { events: 2, lastSeq: 1 },
      { events: 1, lastSeq: 2 },
    ]);
    await b.end();
  });

  it('counts a batch that could not be committed, says so once, and the next batch still goes', async () => {
    const { b, writer, errors } = batcher({ batchSize: 2 });
    b.take(message(0));
    b.take(message(1));
    await writer.answer({ ok: false, error: 'disk I/O error', code: 'SQLITE_IOERR' });
    let c = b.counters();
    assert.equal(c.failed, 2);
    assert.equal(c.written, 0);
    assert.equal(c.writeErrors, 1);
    assert.equal(c.healthy, 0);
    assert.deepEqual(errors, ['archive: a batch of 2 events was not written: disk I/O error']);
    assert.equal(b.status().ok, false);

    b.take(message(2));
    b.take(message(3));
    assert.deepEqual(writer.commitsAsked, [1, 2], 'the next batch is committed after the failure');
    await writer.answer();
    c = b.counters();
    assert.equal(c.written, 2);
    assert.equal(c.batches, 1);
    assert.equal(c.failed, 2);

    // A stopped writer: its batches are counted as failed, reported once.
    for (let i = 4; i < 8; i += 2) {
      b.take(message(i));
      b.take(message(i + 1));
      await writer.answer({ ok: false, error: 'archive writer stopped', stopped: true });
    }
    assert.equal(b.counters().failed, 6);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[1]!, /archive writer stopped/);
    assert.equal(b.counters().diskFull, 0);
    await b.end();
  });

  it('holds one batch in flight and one sent: take() waits until the writer answers', async () => {
    const { b, writer, commits } = batcher({ batchSize: 2 });
    assert.equal(b.take(message(0)), undefined);
    assert.equal(b.take(message(1)), undefined, 'the first batch goes in flight: nothing to wait for');
    assert.equal(b.take(message(2)), undefined);
    const wait = b.take(message(3));
    assert.ok(wait, 'one in flight and the next sent: wait');
    assert.equal(writer.added.length, 2, 'the next batch was sent ahead (the writer inserts it)...');
    assert.deepEqual(writer.commitsAsked, [1], '...but its commit is not asked for before the first is answered');
    assert.equal(await settled(wait), false);
    await sleep(20);
    assert.equal(await settled(wait), false, 'still waiting: the writer has not answered');
    assert.equal(await writer.answer(), 1);
    assert.equal(await settled(wait), true, 'the answer ends the wait');
    assert.deepEqual(commits, [{ events: 2, lastSeq: 1 }], 'acknowledged...');
    assert.deepEqual(writer.commitsAsked, [1, 2], '...then the next commit asked for');
    const ended = b.end();
    await writer.answer();
    await ended;
    assert.deepEqual(commits, [
      { events: 2, lastSeq: 1 },
      { events: 2, lastSeq: 3 },
    ]);
  });

  it('end() sends what was taken, waits for every answer, then closes the writer', async () => {
    const { b, writer, commits } = batcher({ batchSize: 2 });
    for (let i = 0; i < 3; i++) b.take(message(i));
    // [0, 1] in flight, [2] filling.
    let ended = false;
    const end = b.end().then(() => (ended = true));
    await tick();
    assert.equal(ended, false);
    assert.equal(writer.closes, 0, 'not closed while a batch is in flight');
    await writer.answer();
    assert.deepEqual(
      writer.added.map((a) => a.seqs),
      [[0, 1], [2]],
      'the last, partial batch is sent once the one in flight is answered',
    );
    assert.equal(ended, false);
    await writer.answer();
    await end;
    assert.equal(writer.closes, 1);
    assert.equal(writer.unanswered, 0);
    assert.deepEqual(commits, [
      { events: 2, lastSeq: 1 },
      { events: 1, lastSeq: 2 },
    ]);
    const c = b.counters();
    assert.equal(c.received, 3);
    assert.equal(c.written, 3);
    assert.equal(c.batches, 2);
  });

  it('asks for retention at start and every retentionIntervalMs when there is an age or a cap, and counts what it pruned', async () => {
    const none = batcher();
    await none.b.end();
    assert.deepEqual(none.writer.retains, [], 'no age and no cap: no retention');

    const nowUs = 1_000 * 86_400 * 1_000_000;
    const { b, writer } = batcher({ retentionDays: 2, nowUs: () => nowUs, retentionIntervalMs: 20 });
    assert.deepEqual(writer.retains, [nowUs - 2 * 86_400 * 1_000_000], 'asked at start');
    await sleep(70);
    assert.ok(writer.retains.length >= 2, `${writer.retains.length} requests`);
    await b.close();
    const n = writer.retains.length;
    assert.equal(b.counters().pruned, 7 * n);
    await sleep(50);
    assert.equal(writer.retains.length, n, 'none after close');

    const capped = batcher({ capBytes: 1 << 20 });
    assert.deepEqual(capped.writer.retains, [null], 'a cap alone: by size only');
    await capped.b.end();
  });

  it('folds a flood from one stream into aggregates and writes them at the end', async () => {
    const { b, writer } = batcher({ batchSize: 1000, foldRate: 1 });
    // 200 pings from one peer within 200 ms: past the bucket's burst, the rest fold.
    for (let i = 0; i < 200; i++) b.take(message(i, { timeUs: 1_000_000_000 + i * 1000 }));
    const ended = b.end();
    await writer.answer();
    await ended;
    const c = b.counters();
    assert.equal(c.received, 200);
    assert.equal(c.written, 200, 'every event counted as written, those folded included');
    assert.ok(c.folded > 0 && c.aggregates > 0, JSON.stringify(c));
    const rows = writer.added.reduce((n, a) => n + a.seqs.length, 0);
    assert.ok(rows < 200, `${rows} rows for 200 events`);
  });
});
