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
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, startPublisher, type NatsServer, type PublisherProcess } from '../helpers/nats-server.js';
import { runCli, startCli, type Cli } from '../cli/helpers.js';
import { NatsBus } from '../../src/bus/nats.js';
import { DurableConsumer } from '../../src/bus/durable.js';
import { DEFAULT_STREAM_LIMITS, describeStream, hasJetStream, streamStatus } from '../../src/bus/jetstream.js';
import { until } from '../helpers/until.js';
import { pingEvent } from '../helpers/events.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

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

  it('nats-server restarted (an upgrade) under running publishers and archive: every acknowledged event exactly once', async () => {
    // SIGTERM, as an upgrade stops it: a single server SIGKILLed may lose what its file store had not yet written
    // (the R3 cluster is the answer to that, test/bus/jetstream-cluster.test.ts).
    let server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const dataDir = join(root, 'server-restart');
    const archive = archiveCli(server.url, dataDir);
    await archive.until(() => /durable consumer archive-default/.test(archive.stderr()), 'consumer', 15_000);
    const nodes = ['obs-r1', 'obs-r2'];
    const count = 20_000;
    const pubs = nodes.map((nodeId) =>
      startPublisher({ servers: [server.url], nodeId, count, batch: 50, intervalMs: 10, mode: 'jetstream', reconnectTimeWaitMs: 100 }),
    );
    publishers.push(...pubs);
    await until(() => total(safeCounts(dataDir)) > 2000, 'the archive writing', 20_000);
    await server.stop('SIGTERM', true);
    await new Promise((r) => setTimeout(r, 1000));
    server = await server.restart();
    servers.push(server);
    const done = await Promise.all(pubs.map((p) => p.until((l) => l.done === true, 'done', 60_000)));
    const acked = done.map((d) => Number(d.stats.acked));
    for (const [i, d] of done.entries()) {
      assert.equal(acked[i]! + Number(d.stats.dropped), count, `${nodes[i]}: published = acknowledged + dropped`);
      assert.ok(acked[i]! > count / 2, `${nodes[i]}: ${acked[i]} acknowledged`);
    }
    const want = acked.reduce((a, b) => a + b, 0);
    await until(() => total(safeCounts(dataDir)) >= want, 'the archive caught up', 40_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await archive.stop('SIGTERM'), 0, archive.stderr());
    assert.deepEqual(
      counts(dataDir),
      nodes.map((node, i) => ({ node, rows: acked[i], unique: acked[i] })),
      'every acknowledged (node, seq) exactly once',
    );
    assert.equal(integrity(dataDir), 'ok');
  });

  it('archive --fresh-if-damaged on JetStream: a damaged file is moved aside and the archive starts from the stream', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream' });
    for (let i = 0; i < 100; i++) bus.publish(pingEvent('damaged-1', i));
    await bus.close();
    const dataDir = join(root, 'damaged');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'archive.sqlite'), randomBytes(64 * 1024));
    // (Before, the durable consumer read the archive's mark first and the command died on the damaged file, telling
    // the operator to pass the flag it had been given.)
    const archive = startCli(['archive', '--nats', server.url, '--data-dir', dataDir, '--fresh-if-damaged']);
    clis.push(archive);
    await archive.until(() => /moved aside to \S+; starting a fresh archive/.test(archive.stderr()), 'moved aside', 15_000);
    await until(() => total(safeCounts(dataDir)) === 100, 'every event from the stream', 15_000);
    assert.equal(await archive.stop('SIGTERM'), 0, archive.stderr());
  });

  it('log --since reads history from the stream; a durable log resumes where it stopped (--consumer-name)', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream' });
    for (let i = 0; i < 500; i++) bus.publish(pingEvent('hist-1', i));
    await bus.drain();

    const ids = (cli: Cli) => cli.events().map((e) => (e.data as { conn: { id: number } }).conn.id);
    const history = startCli(['log', '--nats', server.url, '--json', '--since', '-1h', '--node-id', 'hist-1']);
    clis.push(history);
    await history.until(() => history.events().length >= 500, 'the last hour', 15_000);
    assert.equal(await history.stop('SIGTERM'), 0);
    assert.deepEqual(ids(history), range(0, 500));
    assert.match(history.stderr(), /new durable consumer log-default on stream PEER_OBSERVER, from \d{4}-/);

    // New events only (the default), under its own name; stopped, then resumed: exactly what it missed.
    const live = startCli(['log', '--nats', server.url, '--json', '--consumer-name', 'ops', '--type', 'ping.latency']);
    clis.push(live);
    await live.until(() => /logging from NATS/.test(live.stderr()), 'ready', 15_000);
    for (let i = 500; i < 600; i++) bus.publish(pingEvent('hist-1', i));
    await bus.drain();
    await live.until(() => live.events().length >= 100, 'new events', 15_000);
    assert.equal(await live.stop('SIGTERM'), 0);
    assert.deepEqual(ids(live), range(500, 600));
    for (let i = 600; i < 700; i++) bus.publish(pingEvent('hist-1', i));
    await bus.drain();
    const again = startCli(['log', '--nats', server.url, '--json', '--consumer-name', 'ops', '--type', 'ping.latency']);
    clis.push(again);
    await again.until(() => again.events().length >= 100, 'what it missed', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await again.stop('SIGTERM'), 0);
    assert.match(again.stderr(), /resuming durable consumer log-ops/);
    assert.deepEqual(ids(again), range(600, 700));

    // replay --from-stream: a time range of the stream, printed, then it ends by itself.
    for (let i = 700; i < 710; i++) bus.publish({ ...pingEvent('hist-1', i), timeUs: Date.parse('2024-06-01T12:00:00Z') * 1000 + i });
    await bus.drain();
    const r = await runCli([
      'replay',
      '--from-stream',
      server.url,
      '--since',
      '2024-06-01T11:00:00Z',
      '--until',
      '2024-06-01T13:00:00Z',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const replayed = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { data: { conn: { id: number } } }).data.conn.id);
    assert.deepEqual(replayed, range(700, 710), 'only the range asked for');
    assert.match(r.stderr, /replay --from-stream: received=710 decoded=710 rejected=0/);
    const bad = await runCli(['replay', '--from-stream', server.url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--from-stream needs --since/);
    await bus.close();
  });

  it('a subscriber that stops taking events stops the pulls: what waits in memory stays bounded whatever the backlog', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream', batchEvents: 10 });
    const n = 20_000;
    for (let i = 0; i < n; i++) bus.publish(pingEvent('backlog-1', i));
    await bus.drain();
    assert.equal(bus.stats().acked, n);
    // 3 messages a pull (4 MiB at the server's 1 MiB max_payload each), 50 events queued before pulling pauses.
    const consumer = await DurableConsumer.open({
      servers: [server.url],
      consumer: 'stalled',
      start: { kind: 'all' },
      pullBytes: 4 * 1024 * 1024,
      highWater: 50,
    });
    const it = consumer.subscribe()[Symbol.asyncIterator]();
    const take = async (count: number, from: number) => {
      for (let k = from; k < from + count; k++) {
        const r = await it.next();
        assert.ok(!r.done && r.value.type === 'ping.latency' && r.value.data.conn.id === k, `event ${k} in order`);
      }
    };
    await take(100, 0);
    // The subscriber stops. Give the consumer time to pull all it would.
    await new Promise((r) => setTimeout(r, 1500));
    const behind = await consumer.position();
    // Delivered and not acknowledged (nothing acknowledges here): the 10 messages taken, the ones queued (the high
    // water and the message being queued: 6) and what the client holds (the pull being read and the next: 6); never
    // the 2,000-message backlog (with no high water, all 2,000 were pulled).
    assert.ok(consumer.ackPending <= 22, `${consumer.ackPending} messages delivered and unacknowledged, ${behind} waiting in the stream`);
    assert.ok(behind >= 2_000 - 10 - 16, `${behind} messages still in the stream`);
    assert.ok(consumer.queued <= 50 + 10, `${consumer.queued} events queued`);
    // Taking again: the rest, in order, nothing lost to the pause.
    await take(n - 100, 100);
    assert.equal(consumer.stats().rejected, 0);
    await consumer.close(true);
    await bus.close();
  });

  it('a stream at its byte limit: publishers never block, what was removed is counted, a lagging consumer says how far behind', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const limits = { ...DEFAULT_STREAM_LIMITS, maxBytes: 2 * 1024 * 1024 };
    const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream', stream: limits, batchEvents: 100 });
    assert.match(bus.notice, /created stream PEER_OBSERVER: .* of max 2097152/);
    // A consumer that starts at the beginning and then does not read (it lags).
    const lagging = await DurableConsumer.open({
      servers: [server.url],
      consumer: 'lagging',
      start: { kind: 'all' },
      highWater: 1,
    });
    // (Not subscribed yet: nothing is pulled, so the limit removes what it has not read.)
    // Several MB into a 2 MiB stream.
    const n = 60_000;
    for (let i = 0; i < n; i++) bus.publish(pingEvent('full-1', i));
    await bus.drain();
    const s = bus.stats();
    assert.deepEqual([s.acked, s.dropped, s.buffered, s.inFlight], [n, 0, 0, 0], 'no publisher blocked, nothing dropped');
    const raw = await connect({ servers: server.url });
    const info = await (await hasJetStream(raw))!.streams.info('PEER_OBSERVER');
    await raw.close();
    const status = streamStatus(info);
    assert.ok(status.bytes <= limits.maxBytes, `${status.bytes} bytes kept`);
    assert.ok(status.removed > 0 && status.removed === status.lastSeq - status.messages, `removed ${status.removed}`);
    assert.match(describeStream(info), new RegExp(`removed by limits ${status.removed};`));
    // The bus publishes what it last saw of the stream in its counters (pipeline.counters, metrics).
    await until(() => (bus.counterValues().streamRemoved ?? 0) > 0, 'stream counters', 15_000);
    // The lagging consumer: how far behind (from the server), and what it missed, once it reads again.
    const behind = await lagging.position();
    assert.ok(behind > 0, `behind by ${behind} messages`);
    assert.equal(lagging.stats().behind, behind);
    const it = lagging.subscribe()[Symbol.asyncIterator]();
    let got = 0;
    for (;;) {
      const r = await it.next();
      got++;
      if (r.done || (r.value.type === 'ping.latency' && r.value.data.conn.id === n - 1)) break;
    }
    const l = lagging.stats();
    assert.ok(l.missed > 0, `missed ${l.missed} messages removed before it read them`);
    assert.equal(l.behind, 0);
    assert.ok(got < n, `${got} events read, the rest removed by the limit`);
    await lagging.close();
    await bus.close();
  });
});
