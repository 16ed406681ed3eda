/**
 * The archive consumer on real SQLite files in a temp dir: batching, the
 * envelope kept as published, filters (exact), retention by age and by size
 * (the files really shrink), the schema version table, the flag parsers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startArchive, type ArchiveOptions } from '../../src/consumers/archive/consumer.js';
import { archivePath, fileBytes, openArchiveForReading, openArchiveForWriting, schemaVersion } from '../../src/consumers/archive/db.js';
import { countMatching, readMatching, type ArchiveFilter } from '../../src/consumers/archive/query.js';
import { peerIp } from '../../src/consumers/archive/store.js';
import { encodeEvent } from '../../src/events/wire.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { parseFilter, parsePeer, parseTime } from '../../src/cli/archive-flags.js';
import { T0_US, counters, message, opened, seqOf, core } from './events.js';

const root = mkdtempSync(join(tmpdir(), 'po-archive-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `a${n++}`);

async function archiveAll(events: ObserverEvent[], options: Partial<ArchiveOptions> & { dataDir?: string } = {}) {
  const dataDir = options.dataDir ?? freshDir();
  const bus = new EmbeddedBus();
  const commits: number[] = [];
  const archive = startArchive(bus, { dataDir, foldRate: 0, ...options, onCommit: (b) => commits.push(b.events) });
  for (const e of events) bus.publish(e);
  await bus.close();
  await archive.done;
  return { dataDir, counters: archive.counters(), commits };
}

function read(dataDir: string, filter: ArchiveFilter = {}): ObserverEvent[] {
  const db = openArchiveForReading(dataDir);
  try {
    return [...readMatching(db, filter, 7)].map((r) => JSON.parse(r.envelope) as ObserverEvent);
  } finally {
    db.close();
  }
}

describe('archive consumer', () => {
  it('writes every event in batches of at most batchSize, the envelope exactly as encoded', async () => {
    const events = Array.from({ length: 2500 }, (_, i) => message(i));
    const withRaw = message(9999);
    (withRaw.data as { raw?: string }).raw = Buffer.from('raw payload bytes').toString('base64');
    events.push(withRaw);
    const { dataDir, counters: c, commits } = await archiveAll(events, { batchSize: 1000 });
    assert.deepEqual(commits, [1000, 1000, 501]);
    assert.deepEqual(core(c), { received: 2501, written: 2501, batches: 3, failed: 0, pruned: 0, dropped: 0 });
    const db = new Database(archivePath(dataDir), { readonly: true });
    const rows = db.prepare('SELECT * FROM events ORDER BY id').all() as Record<string, unknown>[];
    db.close();
    assert.equal(rows.length, 2501);
    rows.forEach((row, i) => assert.equal(row.envelope, Buffer.from(encodeEvent(events[i]!)).toString('utf8')));
    assert.deepEqual(
      { ...rows[0] },
      {
        id: 1,
        time_us: T0_US,
        node_id: 'node-a',
        type: 'message',
        source: 'p2p',
        peer: '198.51.100.4:50412',
        peer_ip: '198.51.100.4',
        conn_id: 1,
        command: 'ping',
        folded: null,
        envelope: rows[0]!.envelope,
      },
    );
    assert.match(String(rows[2500]!.envelope), /"raw":"cmF3IHBheWxvYWQgYnl0ZXM="/);
  });

  it('sends a batch once its envelopes reach batchMaxBytes, however few events it holds', async () => {
    // 40 events with a 300 KB raw payload each: by count one batch, by bytes one per ~1 MiB.
    const raw = Buffer.alloc(225_000, 7).toString('base64');
    const events = Array.from({ length: 40 }, (_, i) => {
      const e = message(i);
      (e.data as { raw?: string }).raw = raw;
      return e;
    });
    const { counters: c, commits } = await archiveAll(events, { batchSize: 1000, batchMaxBytes: 1024 * 1024 });
    assert.equal(c.written, 40);
    assert.deepEqual(commits, Array(10).fill(4), 'four 300 KB envelopes pass 1 MiB');
  });

  it('flushes a partial batch after flushMs', async () => {
    const bus = new EmbeddedBus();
    const commits: number[] = [];
    const dataDir = freshDir();
    const archive = startArchive(bus, { dataDir, batchSize: 1000, flushMs: 50, foldRate: 0, onCommit: (b) => commits.push(b.events) });
    await archive.ready; // the writer thread has started (~0.2 s): from here on only flushMs counts
    for (let i = 0; i < 10; i++) bus.publish(message(i));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(commits, [10]);
    assert.equal(read(dataDir).length, 10); // visible to a reader while the writer is still open
    await bus.close();
    await archive.done;
  });

  it('publishes its counters as pipeline.counters (stage archive)', async () => {
    const bus = new EmbeddedBus();
    const seen: ObserverEvent[] = [];
    const sub = bus.subscribe({ types: ['pipeline.counters'] });
    const collecting = (async () => {
      for await (const e of sub) seen.push(e);
    })();
    const archive = startArchive(bus, {
      dataDir: freshDir(),
      flushMs: 10,
      counters: { origin: { nodeId: 'arch', source: 'archive' }, intervalMs: 50 },
    });
    await archive.ready;
    for (let i = 0; i < 5; i++) bus.publish(message(i));
    await new Promise((r) => setTimeout(r, 200));
    await bus.close();
    await archive.done;
    await collecting;
    const last = seen.at(-1)!;
    assert.equal(last.nodeId, 'arch');
    assert.equal(last.source, 'archive');
    const d = last.data as { stage: string; counters: Record<string, number> };
    assert.equal(d.stage, 'archive');
    assert.ok(d.counters.written! >= 5, JSON.stringify(d));
    for (const k of [
      'received',
      'written',
      'batches',
      'failed',
      'pruned',
      'dropped',
      'fileBytes',
      'folded',
      'aggregates',
      'capBytes',
      'writeErrors',
      'healthy',
      'diskFull',
    ])
      assert.ok(k in d.counters, k);
  });

  it('a full subscriber queue is counted as dropped', async () => {
    const bus = new EmbeddedBus();
    const archive = startArchive(bus, { dataDir: freshDir(), maxQueue: 10, foldRate: 0 });
    for (let i = 0; i < 25; i++) bus.publish(message(i)); // synchronous: the consumer has not run yet
    await bus.close();
    await archive.done;
    // The first event goes straight to the waiting iterator, the next 10 fill the queue.
    assert.deepEqual([archive.counters().written, archive.counters().dropped], [11, 14]);
  });
});

describe('archive filters', () => {
  const events: ObserverEvent[] = [
    message(0, { nodeId: 'fra-1', remote: '198.51.100.4:50412', command: 'addr' }),
    message(1, { nodeId: 'fra-1', remote: '198.51.100.4:50999', command: 'ping' }),
    message(2, { nodeId: 'nyc-1', remote: '[2001:db8::1]:8333', command: 'addr' }),
    opened(3, '198.51.100.4:50412', 'nyc-1'),
    counters(4, 'fra-1'),
    message(5, { nodeId: 'sgp-1', remote: '203.0.113.9:8333', command: 'inv' }),
  ];
  let dataDir = '';
  const ids = (filter: ArchiveFilter) => read(dataDir, filter).map((e) => (e.timeUs - T0_US) / 1000);

  it('time range, peer, type, node, command, limit: exactly the matching events, in arrival order', async () => {
    dataDir = (await archiveAll(events)).dataDir;
    assert.deepEqual(ids({}), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(ids({ sinceUs: T0_US + 1000, untilUs: T0_US + 4000 }), [1, 2, 3]); // since inclusive, until exclusive
    assert.deepEqual(ids({ peer: parsePeer('198.51.100.4') }), [0, 1, 3]);
    assert.deepEqual(ids({ peer: parsePeer('198.51.100.4:50412') }), [0, 3]);
    assert.deepEqual(ids({ peer: parsePeer('2001:0db8:0:0::1') }), [2]);
    assert.deepEqual(ids({ peer: parsePeer('[2001:db8::1]:8333') }), [2]);
    assert.deepEqual(ids({ types: ['connection.opened', 'pipeline.counters'] }), [3, 4]);
    assert.deepEqual(ids({ nodeIds: ['fra-1', 'sgp-1'] }), [0, 1, 4, 5]);
    assert.deepEqual(ids({ command: 'addr' }), [0, 2]);
    assert.deepEqual(ids({ command: 'addr', nodeIds: ['nyc-1'] }), [2]);
    assert.deepEqual(ids({ limit: 4 }), [0, 1, 2, 3]); // pages of 7 in read(): limit across pages too
    const db = openArchiveForReading(dataDir);
    assert.equal(countMatching(db, { peer: parsePeer('198.51.100.4') }), 3);
    assert.equal(countMatching(db, { limit: 2 }), 2);
    db.close();
  });

  it('pages through many rows without losing or repeating one', async () => {
    const many = Array.from({ length: 1234 }, (_, i) => message(i, { nodeId: i % 3 ? 'b' : 'a' }));
    const { dataDir: dir } = await archiveAll(many);
    const db = openArchiveForReading(dir);
    const got = [...readMatching(db, { nodeIds: ['a'] }, 100)].map((r) => seqOf(JSON.parse(r.envelope)));
    db.close();
    assert.deepEqual(
      got,
      many.filter((_, i) => i % 3 === 0).map((_, j) => j * 3),
    );
  });

  it('flag parsers: ISO (µs, zones) and relative times, peers, filters', () => {
    assert.equal(parseTime('--since', '2024-06-01T12:00:00.000001Z'), T0_US + 1);
    assert.equal(parseTime('--since', '2024-06-01T12:00:00.5'), T0_US + 500_000);
    assert.equal(parseTime('--since', '2024-06-01T14:00:00+02:00'), T0_US);
    assert.equal(parseTime('--since', '2024-06-01'), Date.UTC(2024, 5, 1) * 1000);
    assert.equal(parseTime('--since', '-1h', 10_000_000_000), 10_000_000_000 - 3600e6);
    assert.equal(parseTime('--since', '-2d', 1e15), 1e15 - 2 * 86_400e6);
    assert.throws(() => parseTime('--since', 'yesterday'), /--since "yesterday": expected an ISO 8601 time/);
    assert.throws(() => parseTime('--since', '2024-02-30'), /expected an ISO 8601 time/);
    assert.deepEqual(parsePeer('::ffff:1.2.3.4'), { ip: '1.2.3.4' });
    assert.deepEqual(parsePeer('[::1]:8333'), { ip: '::1', remote: '[::1]:8333' });
    assert.throws(() => parsePeer('1.2.3'), /--peer "1\.2\.3": /);
    assert.throws(() => parseFilter({ since: '-1h', until: '-2h' }), /--until "-2h": must be later than --since "-1h"/);
    assert.equal(peerIp('[2001:db8::1]:8333'), '2001:db8::1');
    assert.equal(peerIp('1.2.3.4:8333'), '1.2.3.4');
  });
});

describe('archive retention', () => {
  it('--retention-days: events older than the cutoff are deleted at start, the rest kept', async () => {
    const dayUs = 86_400e6;
    const now = T0_US + 100 * dayUs;
    const old = Array.from({ length: 3000 }, (_, i) => message(i, { timeUs: now - 10 * dayUs + i }));
    const recent = Array.from({ length: 100 }, (_, i) => message(10_000 + i, { timeUs: now - dayUs / 2 + i }));
    const { dataDir } = await archiveAll([...old, ...recent]);
    const before = fileBytes(dataDir);
    const { counters: c } = await archiveAll([], { dataDir, retentionDays: 1, nowUs: () => now });
    assert.equal(c.pruned, 3000);
    assert.deepEqual(read(dataDir).map(seqOf), recent.map(seqOf));
    assert.ok(fileBytes(dataDir) < before / 3, `${fileBytes(dataDir)} vs ${before}`);
  });

  it('--max-db-mb: the oldest events go, the database file really shrinks, and stays under the bound while writing', async () => {
    const dataDir = freshDir();
    const big = Array.from({ length: 12_000 }, (_, i) => message(i, { pad: 400 }));
    await archiveAll(big, { dataDir });
    const before = statSync(archivePath(dataDir)).size;
    assert.ok(before > 5 * 1024 * 1024, `wrote ${before} bytes`);
    const t = performance.now();
    const { counters: c } = await archiveAll([], { dataDir, maxDbMb: 2 });
    const ms = performance.now() - t;
    const after = statSync(archivePath(dataDir)).size;
    assert.ok(after <= 2 * 1024 * 1024, `file is ${after} bytes after pruning`);
    assert.ok(after < before / 2, `${after} vs ${before}`);
    const left = read(dataDir).map(seqOf);
    assert.equal(c.pruned + left.length, 12_000);
    assert.deepEqual(
      left,
      Array.from({ length: left.length }, (_, i) => 12_000 - left.length + i),
    ); // the newest, contiguous
    console.log(`# max-db-mb: ${before} -> ${after} bytes, ${c.pruned} rows deleted in ${ms.toFixed(0)} ms`);

    // While writing: each batch that crosses the bound prunes, so the file never grows much past it.
    const live = freshDir();
    const more = Array.from({ length: 12_000 }, (_, i) => message(i, { pad: 400 }));
    const r = await archiveAll(more, { dataDir: live, maxDbMb: 2, batchSize: 500 });
    assert.ok(r.counters.pruned > 0);
    assert.ok(statSync(archivePath(live)).size <= 2.5 * 1024 * 1024, `${statSync(archivePath(live)).size}`);
    assert.equal(read(live).at(-1) && seqOf(read(live).at(-1)!), 11_999);
  });
});

describe('archive schema', () => {
  it('has a version table; a newer version is refused; reopening migrates nothing and keeps the data', async () => {
    const { dataDir } = await archiveAll([message(1)]);
    let db = openArchiveForWriting(dataDir);
    assert.equal(schemaVersion(db), 3);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('page_size', { simple: true }), 16384);
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 2); // incremental
    const indexes = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'`).all() as { name: string }[])
      .map((r) => r.name)
      .sort();
    assert.deepEqual(indexes, ['events_node', 'events_peer', 'events_time', 'events_type']);
    db.prepare(`UPDATE archive_meta SET value = '99' WHERE key = 'schema_version'`).run();
    db.close();
    assert.throws(() => openArchiveForReading(dataDir), /archive schema 99, newer than this build \(3\)/);
    assert.throws(() => openArchiveForWriting(dataDir), /archive schema 99 is newer than this build/);
    // A version-1 archive (composite indexes, no folded column): read as it is (a read-only copy cannot be migrated),
    // migrated by the writer, data kept.
    db = new Database(archivePath(dataDir));
    db.exec(`
      ALTER TABLE events DROP COLUMN folded;
      DROP INDEX events_peer; DROP INDEX events_type; DROP INDEX events_node;
      CREATE INDEX events_peer ON events (peer_ip, time_us);
      CREATE INDEX events_type ON events (type, time_us);
      CREATE INDEX events_node ON events (node_id, time_us);
    `);
    db.prepare(`UPDATE archive_meta SET value = '1' WHERE key = 'schema_version'`).run();
    db.close();
    assert.deepEqual(
      read(dataDir).map((e) => e.type),
      ['message'],
    );
    db = openArchiveForWriting(dataDir);
    assert.equal(schemaVersion(db), 3);
    assert.ok(db.prepare(`SELECT 1 FROM pragma_table_info('events') WHERE name = 'folded'`).get());
    const cols = (db.prepare(`SELECT sql FROM sqlite_schema WHERE name = 'events_type'`).get() as { sql: string }).sql;
    assert.match(cols, /\(type\)$/);
    db.close();
    assert.equal(read(dataDir).length, 1);
    assert.throws(() => openArchiveForReading(join(root, 'none')), /no archive in .*none \(archive\.sqlite not found\)/);
  });
});
