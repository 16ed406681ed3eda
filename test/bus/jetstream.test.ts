/**
 * Issue 14's must-shows on a real nats-server with JetStream (`-js`, a store
 * directory of its own), through the real `peer-observer archive` bin:
 *
 * - an archive started after three observers published everything gets every
 *   event, exact per node id against the observers' own acknowledged counters;
 * - an archive SIGKILLed during sustained publishing and restarted later holds
 *   every event exactly once (count and unique (node, seq)); integrity_check ok.
 *
 * The delays are parameters: PO_JS_LATE_MS (default 3000; the 30 s)
 * and PO_JS_KILL_MS (default 3000; the 20 s). The length does not
 * change what is tested: with a stream, an event waits there from its
 * acknowledgement on, so an archive started after the publishers finished is
 * the strongest form of "late" (nothing was ever live for it), and a kill
 * during publishing leaves delivered, committed-but-unacknowledged and
 * uncommitted messages whatever its length; only the stream's max age bounds
 * the wait. `PO_JS_LATE_MS=30000 PO_JS_KILL_MS=20000` runs the numbers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startNatsServer, startPublisher, type NatsServer, type PublisherProcess } from '../helpers/nats-server.js';
import { startCli, type Cli } from '../cli/helpers.js';

const LATE_MS = Number(process.env.PO_JS_LATE_MS ?? 3000);
const KILL_MS = Number(process.env.PO_JS_KILL_MS ?? 3000);

const root = mkdtempSync(join(tmpdir(), 'po-js-'));
const servers: NatsServer[] = [];
const clis: Cli[] = [];
const publishers: PublisherProcess[] = [];
after(async () => {
  await Promise.all(clis.map((c) => c.stop('SIGKILL')));
  await Promise.all(publishers.map((p) => p.kill()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  rmSync(root, { recursive: true, force: true });
});

function archiveCli(url: string, dataDir: string): Cli {
  const cli = startCli(['archive', '--nats', url, '--data-dir', dataDir]);
  clis.push(cli);
  return cli;
}

interface NodeCount {
  node: string;
  rows: number;
  unique: number;
}

/** Rows per node id of the test publishers' events, and distinct (node, seq) among them. */
function counts(dataDir: string): NodeCount[] {
  const db = new Database(join(dataDir, 'archive.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT node_id AS node, COUNT(*) AS rows, COUNT(DISTINCT conn_id) AS "unique" FROM events
         WHERE type = 'ping.latency' GROUP BY node_id ORDER BY node_id`,
      )
      .all() as NodeCount[];
  } finally {
    db.close();
  }
}

function integrity(dataDir: string): string {
  const db = new Database(join(dataDir, 'archive.sqlite'), { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function total(c: NodeCount[]): number {
  return c.reduce((n, x) => n + x.rows, 0);
}

function safeCounts(dataDir: string): NodeCount[] {
  try {
    return counts(dataDir);
  } catch {
    return [];
  }
}

describe('JetStream: nothing lost when the archive starts late or restarts (real nats-server -js, real bin)', { timeout: 120_000 }, () => {
  it(`archive started ${LATE_MS} ms after three observers finished: every event, exact per node id`, async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const nodes = ['obs-a', 'obs-b', 'obs-c'];
    const count = 6000;
    const pubs = nodes.map((nodeId) =>
      startPublisher({ servers: [server.url], nodeId, count, batch: 60, intervalMs: 10, mode: 'jetstream' }),
    );
    publishers.push(...pubs);
    const done = await Promise.all(pubs.map((p) => p.until((l) => l.done === true, 'done', 60_000)));
    const acked = Object.fromEntries(nodes.map((n, i) => [n, done[i]!.stats.acked as number]));
    for (const n of nodes) assert.equal(acked[n], count, `${n}: every event acknowledged by the stream`);
    await new Promise((r) => setTimeout(r, LATE_MS));

    const dataDir = join(root, 'late');
    const archive = archiveCli(server.url, dataDir);
    await archive.until(
      () => /new durable consumer archive-default on stream PEER_OBSERVER, from the start/.test(archive.stderr()),
      'consumer',
      15_000,
    );
    assert.match(archive.stderr(), /peer-observer: NATS: JetStream, using stream PEER_OBSERVER: /);
    await until(() => total(safeCounts(dataDir)) >= 3 * count, 'every event archived', 30_000);
    assert.equal(await archive.stop('SIGTERM'), 0, archive.stderr());
    assert.deepEqual(
      counts(dataDir),
      nodes.map((node) => ({ node, rows: acked[node], unique: acked[node] })),
    );
    assert.match(archive.stderr(), /peer-observer: archive: received=\d+ written=\d+ .* acked=\d+ behind=0 missed=0\n/);
    assert.equal(integrity(dataDir), 'ok');
  });

  it(`archive SIGKILLed for ${KILL_MS} ms during sustained publishing, then restarted: every event exactly once`, async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const dataDir = join(root, 'kill');
    let archive = archiveCli(server.url, dataDir);
    await archive.until(() => /durable consumer archive-default/.test(archive.stderr()), 'consumer', 15_000);
    const nodes = ['obs-k1', 'obs-k2'];
    const count = 25_000;
    // 5,000 events/s each for 5 s.
    const pubs = nodes.map((nodeId) =>
      startPublisher({ servers: [server.url], nodeId, count, batch: 50, intervalMs: 10, mode: 'jetstream' }),
    );
    publishers.push(...pubs);
    // Kill it mid-stream, once it has committed something.
    await until(() => total(safeCounts(dataDir)) > 2000, 'the archive writing', 20_000);
    archive.child.kill('SIGKILL');
    await archive.exited;
    const atKill = total(safeCounts(dataDir));
    assert.ok(atKill < 2 * count, `killed mid-stream (${atKill} archived)`);
    await new Promise((r) => setTimeout(r, KILL_MS));
    archive = archiveCli(server.url, dataDir);
    const done = await Promise.all(pubs.map((p) => p.until((l) => l.done === true, 'done', 60_000)));
    const acked = Object.fromEntries(nodes.map((n, i) => [n, done[i]!.stats.acked as number]));
    for (const n of nodes) assert.equal(acked[n], count, `${n}: every event acknowledged by the stream`);
    await until(() => total(safeCounts(dataDir)) >= 2 * count, 'the archive caught up', 40_000);
    // Anything still to come (a duplicate) would come now.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await archive.stop('SIGTERM'), 0, archive.stderr());
    assert.match(archive.stderr(), /resuming durable consumer archive-default on stream PEER_OBSERVER/);
    assert.deepEqual(
      counts(dataDir),
      nodes.map((node) => ({ node, rows: count, unique: count })),
      'every (node, seq) exactly once',
    );
    assert.equal(integrity(dataDir), 'ok');
  });
});
