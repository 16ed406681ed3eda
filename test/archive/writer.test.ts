/**
 * The archive's writer thread failing for real (test/archive/faulty-writer.ts
 * runs the real writer, made to exit, throw, or find the database full):
 * exactly the batch the thread died on is counted failed, the rest (the batch
 * it held ahead included) is written by the next thread; repeated deaths stop
 * archiving without stalling the bus;
 * SQLite refusing batches is counted and the thread lives on. Also: the
 * envelope's bytes survive the trip (non-ASCII), a bad data dir throws at
 * once, and an archive that is never closed does not hold the process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startArchive, type ArchiveOptions } from '../../src/consumers/archive/consumer.js';
import { ArchiveOpenError, archivePath } from '../../src/consumers/archive/db.js';
import { WRITER_RESTARTS } from '../../src/consumers/archive/writer-client.js';
import { messageSummary } from '../../src/events/summary.js';
import { encodeEvent } from '../../src/events/wire.js';
import { ipFromString } from '../../src/protocol/address.js';
import { msg } from '../../src/protocol/messages/index.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { message, seqOf, core } from './events.js';

const FAULTY = new URL('./faulty-writer.ts', import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'po-writer-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `w${n++}`);

async function archiveAll(events: ObserverEvent[], options: Partial<ArchiveOptions> = {}) {
  const dataDir = options.dataDir ?? freshDir();
  const bus = new EmbeddedBus();
  const errors: string[] = [];
  const commits: number[] = [];
  const archive = startArchive(bus, {
    dataDir,
    writerModule: FAULTY,
    foldRate: 0,
    ...options,
    onError: (e) => errors.push(e.message),
    onCommit: (b) => commits.push(seqOf(b.last)),
  });
  for (let i = 0; i < events.length; i += 250) {
    for (const e of events.slice(i, i + 250)) bus.publish(e);
    await bus.drain(); // never more than the queue holds
  }
  await bus.close();
  await archive.done;
  return { dataDir, counters: archive.counters(), errors, commits };
}

function seqs(dataDir: string): number[] {
  const db = new Database(archivePath(dataDir), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    return (db.prepare('SELECT envelope FROM events ORDER BY id').all() as { envelope: string }[]).map((r) =>
      seqOf(JSON.parse(r.envelope)),
    );
  } finally {
    db.close();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('archive writer thread failures', { timeout: 60_000 }, () => {
  for (const how of ['exit', 'throw'] as const) {
    it(`the thread ${how === 'exit' ? 'exits' : 'throws'} while writing a batch: that batch is counted failed, a new thread writes the rest`, async () => {
      const events = range(0, 3000).map((i) => message(i, i === 1234 ? { nodeId: `die:${how}` } : {}));
      const { dataDir, counters, errors, commits } = await archiveAll(events, { batchSize: 500 });
      assert.deepEqual(core(counters), { received: 3000, written: 2500, batches: 5, failed: 500, pruned: 0, dropped: 0 });
      // The batch of events 1000..1499 is the one lost; every other one is in the file, in order.
      assert.deepEqual(seqs(dataDir), [...range(0, 1000), ...range(1500, 3000)]);
      assert.deepEqual(commits, [499, 999, 1999, 2499, 2999]);
      const why = how === 'exit' ? 'exited with code 7' : 'injected failure';
      assert.equal(errors.length, 2, errors.join('\n'));
      assert.equal(errors[0], `archive writer thread died (${why}); starting a new one in 100 ms`);
      assert.equal(errors[1], `archive: a batch of 500 events was not written: archive writer thread died: ${why}`);
    });
  }

  it('the thread dies committing a batch while holding the next one: that one goes to the new thread', async () => {
    const dataDir = freshDir();
    const bus = new EmbeddedBus();
    const errors: string[] = [];
    const archive = startArchive(bus, {
      dataDir,
      batchSize: 100,
      foldRate: 0,
      writerModule: FAULTY,
      onError: (e) => errors.push(e.message),
    });
    await archive.ready;
    // All at once: while the thread waits to die committing batch 3 (events 300..399), batch 4 is filled and sent ahead.
    for (let i = 0; i < 1000; i++) bus.publish(message(i, i === 333 ? { nodeId: 'die:commit' } : {}));
    await bus.close();
    await archive.done;
    const c = archive.counters();
    assert.deepEqual(core(c), { received: 1000, written: 900, batches: 9, failed: 100, pruned: 0, dropped: 0 });
    assert.deepEqual(seqs(dataDir), [...range(0, 300), ...range(400, 1000)]);
    assert.deepEqual(errors, [
      'archive writer thread died (exited with code 8); starting a new one in 100 ms',
      'archive: a batch of 100 events was not written: archive writer thread died: exited with code 8',
    ]);
  });

  it('a thread that dies again and again: archiving stops after the restarts, every event counted, the bus never stalls', async () => {
    // Every batch of 10 holds an event that kills the thread writing it.
    const events = range(0, 200).map((i) => message(i, i % 10 === 3 ? { nodeId: 'die:exit' } : {}));
    const t = performance.now();
    const { dataDir, counters, errors } = await archiveAll(events, { batchSize: 10, flushMs: 10 });
    const ms = performance.now() - t;
    assert.deepEqual(core(counters), { received: 200, written: 0, batches: 0, failed: 200, pruned: 0, dropped: 0 });
    assert.deepEqual(seqs(dataDir), []);
    const deaths = errors.filter((e) => e.startsWith('archive writer thread died'));
    assert.equal(deaths.length, WRITER_RESTARTS + 1, errors.join('\n'));
    assert.deepEqual(
      deaths.slice(0, WRITER_RESTARTS).map((e) => /starting a new one in (\d+) ms$/.exec(e)?.[1]),
      ['100', '200', '400', '800', '1600'],
    );
    assert.match(deaths.at(-1)!, /6 times in a row: archiving stopped, events from now on are counted as failed$/);
    // One message per lost batch while restarting, one when it stopped; not one per batch after that.
    const lostBatches = errors.filter((e) => e.startsWith('archive: a batch of'));
    assert.equal(lostBatches.length, WRITER_RESTARTS + 2, errors.join('\n'));
    assert.ok(ms < 20_000, `${ms} ms`);
  });

  it('SQLite refuses batches (database full): they are counted failed, the thread lives on, the file stays consistent', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'max-page-count'), '40'); // 40 pages of 16 KiB
    const events = range(0, 3000).map((i) => message(i, { pad: 300 }));
    const { counters, errors } = await archiveAll(events, { dataDir, batchSize: 250 });
    assert.ok(counters.written > 0 && counters.failed > 0, JSON.stringify(counters));
    assert.equal(counters.written + counters.failed, 3000);
    assert.equal(counters.failed % 250, 0);
    assert.ok(
      errors.length > 0 && errors.every((e) => /^archive: a batch of 250 events was not written: database or disk is full$/.test(e)),
      errors.join('\n'),
    );
    assert.equal(errors.length, counters.failed / 250);
    const got = seqs(dataDir);
    assert.equal(got.length, counters.written);
    assert.deepEqual(got, range(0, counters.written)); // whole batches, in order, none half-written
  });
});

describe('archive writer thread', () => {
  it('keeps every envelope byte for byte, non-ASCII included', async () => {
    const e = message(1);
    // A version message whose user agent is not ASCII (what a peer may send), summarised as the p2p source does.
    const version = msg('version', {
      version: 70016,
      services: 1033n,
      timestamp: 1_717_243_200n,
      receiver: { services: 0n, ip: ipFromString('127.0.0.1'), port: 8333 },
      sender: { services: 0n, ip: ipFromString('127.0.0.1'), port: 0 },
      nonce: 1n,
      userAgent: '/Satoshi:27.0.0(ünïcødé ₿ 🐝 \u2028)/',
      startHeight: 1,
      relay: true,
    });
    if (e.type === 'message') e.data = { ...e.data, ...messageSummary(version) };
    const { dataDir } = await archiveAll([message(0), e, message(2)], { writerModule: undefined });
    const db = new Database(archivePath(dataDir), { readonly: true });
    const rows = db.prepare('SELECT typeof(envelope) AS t, envelope FROM events ORDER BY id').all() as { t: string; envelope: string }[];
    db.close();
    assert.deepEqual(
      rows.map((r) => r.t),
      ['text', 'text', 'text'],
    );
    assert.equal(rows[1]!.envelope, Buffer.from(encodeEvent(e)).toString('utf8'));
    assert.match(rows[1]!.envelope, /ünïcødé ₿ 🐝/);
  });

  it('a bad data dir throws ArchiveOpenError at once, and starts no thread', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const bus = new EmbeddedBus();
    assert.throws(
      () => startArchive(bus, { dataDir: join(file, 'sub') }),
      (e) => e instanceof ArchiveOpenError && /cannot create/.test(e.message),
    );
  });

  it('an archive nobody closes does not keep the process alive; one being closed does until it is done', async () => {
    const script = (close: boolean) => `
      import { EmbeddedBus } from ${JSON.stringify(new URL('../../src/bus/embedded.ts', import.meta.url).href)};
      import { startArchive } from ${JSON.stringify(new URL('../../src/consumers/archive/consumer.ts', import.meta.url).href)};
      import { message } from ${JSON.stringify(new URL('./events.ts', import.meta.url).href)};
      const bus = new EmbeddedBus();
      const archive = startArchive(bus, { dataDir: ${JSON.stringify(freshDir())}, flushMs: 10, onCommit: (b) => console.log('committed', b.events) });
      for (let i = 0; i < 5; i++) bus.publish(message(i));
      ${close ? `await bus.close(); await archive.done; console.log('done', archive.counters().written);` : ''}
    `;
    for (const close of [false, true]) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(close)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 0, err);
      // Not closed: the process ends once the batch is committed (the thread holds it only while working).
      assert.equal(out, close ? 'committed 5\ndone 5\n' : 'committed 5\n');
    }
  });
});
