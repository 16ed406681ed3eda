/**
 * Issue 14's late-archive must-show with a real Bitcoin Core: three observers
 * publish into a JetStream stream (real nats-server -js), one of them a real
 * `peer-observer run` connected to a real bitcoind from its first second (its
 * handshake with Core), two test publishers; the archive starts 30 s later
 * (PO_JS_CORE_LATE_MS, default 30000: the issue's number, which is most of this
 * test's ≈ 40 s) and must hold every event from the first on, exactly per node
 * id against each observer's own published counters.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { bitcoindSkipReason, startBitcoind, type Bitcoind } from '../helpers/bitcoind.js';
import { startNatsServer, startPublisher, type NatsServer, type PublisherProcess } from '../helpers/nats-server.js';
import { startCli, type Cli } from '../cli/helpers.js';
import { until } from '../helpers/until.js';

const LATE_MS = Number(process.env.PO_JS_CORE_LATE_MS ?? 30_000);

const root = mkdtempSync(join(tmpdir(), 'po-js-core-'));
const servers: NatsServer[] = [];
const nodes: Bitcoind[] = [];
const clis: Cli[] = [];
const publishers: PublisherProcess[] = [];
after(async () => {
  await Promise.all(clis.map((c) => c.stop('SIGKILL')));
  await Promise.all(publishers.map((p) => p.kill()));
  await Promise.all(nodes.map((n) => n.stop()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  rmSync(root, { recursive: true, force: true });
});

interface Row {
  time_us: number;
  type: string;
  command: string | null;
  peer: string | null;
  envelope: string;
}

function query<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'archive.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

function perNode(dataDir: string): Record<string, number> {
  try {
    const rows = query<{ node: string; n: number }>(dataDir, 'SELECT node_id AS node, COUNT(*) AS n FROM events GROUP BY node_id');
    return Object.fromEntries(rows.map((r) => [r.node, r.n]));
  } catch {
    return {};
  }
}

describe(
  'JetStream: an archive started late has a real Bitcoin Core handshake from the first second',
  { skip: bitcoindSkipReason(), timeout: 120_000 + LATE_MS },
  () => {
    it(`archive started ${LATE_MS} ms after three observers (one connected to bitcoind): every event, exact per node id`, async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const core = await startBitcoind();
      nodes.push(core);

      const startedUs = Date.now() * 1000;
      const observer = startCli([
        'run',
        '--network',
        'regtest',
        '--node-id',
        'core-obs',
        '--connect',
        `127.0.0.1:${core.port}`,
        '--nats',
        server.url,
        '--nats-mode',
        'jetstream',
      ]);
      clis.push(observer);
      const count = 3000;
      const pubs = ['obs-b', 'obs-c'].map((nodeId) =>
        startPublisher({ servers: [server.url], nodeId, count, batch: 100, intervalMs: 10, mode: 'jetstream' }),
      );
      publishers.push(...pubs);
      // Core sees our observer complete its handshake.
      const [peer] = await core.waitForPeers((p) => p.some((x) => x.inbound && x.version > 0), 'our observer, handshake done', 20_000);
      assert.match(peer!.subver, /peer-observer|Satoshi/);
      const done = await Promise.all(pubs.map((p) => p.until((l) => l.done === true, 'done', 60_000)));
      for (const d of done) assert.equal(d.stats.acked, count);

      await new Promise((r) => setTimeout(r, LATE_MS));
      const dataDir = join(root, 'late');
      const archive = startCli(['archive', '--nats', server.url, '--data-dir', dataDir, '--fold-rate', '0']);
      clis.push(archive);
      await archive.until(
        () => /new durable consumer archive-default on stream PEER_OBSERVER, from the start/.test(archive.stderr()),
        'consumer',
        20_000,
      );

      // The observer's own count of what it published, at its clean exit (every event acknowledged by the stream).
      assert.equal(await observer.stop('SIGTERM', 15_000), 0, observer.stderr());
      const m = /peer-observer: nats: published=(\d+) sent=\d+ buffered=(\d+) dropped=(\d+)/.exec(observer.stderr());
      assert.ok(m, observer.stderr());
      const published = Number(m[1]);
      assert.equal(Number(m[2]), 0, 'nothing left unsent');
      assert.equal(Number(m[3]), 0, 'nothing dropped');

      const want = { 'core-obs': published, 'obs-b': count, 'obs-c': count };
      await until(
        () =>
          (perNode(dataDir)['core-obs'] ?? 0) >= published &&
          (perNode(dataDir)['obs-c'] ?? 0) >= count &&
          (perNode(dataDir)['obs-b'] ?? 0) >= count,
        'everything archived',
        30_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await archive.stop('SIGTERM'), 0, archive.stderr());
      assert.deepEqual(perNode(dataDir), want, "exact per node id against the observers' own counters");
      assert.equal(
        query<{ ok: string }>(dataDir, 'PRAGMA integrity_check')
          .map((r) => Object.values(r)[0])
          .join(),
        'ok',
      );

      // The handshake with Core, from the observer's first second, is in the archive.
      const rows = query<Row>(dataDir, "SELECT time_us, type, command, peer, envelope FROM events WHERE node_id = 'core-obs' ORDER BY id");
      const corePeer = `127.0.0.1:${core.port}`;
      const opened = rows.find((r) => r.type === 'connection.opened' && r.peer === corePeer);
      assert.ok(opened, 'the connection to Core');
      const version = rows.find(
        (r) =>
          r.type === 'message' &&
          r.command === 'version' &&
          r.peer === corePeer &&
          r.envelope.includes('"dir":"in"') &&
          /Satoshi/.test(r.envelope),
      );
      assert.ok(version, "Core's version message (its /Satoshi:…/ user agent)");
      assert.ok(
        rows.some((r) => r.type === 'message' && r.command === 'verack' && r.peer === corePeer),
        'the verack',
      );
      assert.ok(rows[0]!.time_us - startedUs < 10_000_000, "the first event archived is from the observer's first seconds");
      assert.ok(opened.time_us <= rows[0]!.time_us + 2_000_000, 'the connection to Core is among its first events');
    });
  },
);
