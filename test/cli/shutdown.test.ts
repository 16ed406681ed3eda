/**
 * SIGTERM stops every component of a real `run` (the p2p listener, HTTP, the
 * detectors, the archive and its writer thread, the connectivity check, a
 * debug.log source, the bus and logger) within the runtime's 2 s shutdown
 * deadline, and each one's last counters are published: one `pipeline.counters`
 * event per stage on stdout (the counters interval, 10 s, never elapses here,
 * so the one we see is the final one) and in the archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { listeningPort, ofType, startCli } from './helpers.js';

// The connectivity check has no counters of its own: its numbers go out as its `connectivity.summary` events.
const STAGES = ['health', 'archive', 'detectors', 'http', 'p2p.observer', 'log', 'bus'];

test('SIGTERM: every component stops within the deadline with its last counters published', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'po-shutdown-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const debugLog = join(dir, 'debug.log');
  writeFileSync(debugLog, '');
  const cli = startCli([
    'run',
    '--network',
    'regtest',
    '--node-id',
    'sd-1',
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--data-dir',
    dir,
    '--max-db-mb',
    '0',
    '--connectivity',
    '--connectivity-allow-loopback',
    '--debug-log',
    debugLog,
    '--json',
  ]);
  t.after(() => cli.stop('SIGKILL'));
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'the start-up line');
  // A peer on the listener, so the observer has a connection to close at shutdown.
  const peer = connect({ host: '127.0.0.1', port: listeningPort(cli.stderr())! });
  peer.on('error', () => {});
  await cli.until(() => cli.stdout().includes('"connection.opened"'), 'the connection event');

  const sent = performance.now();
  cli.child.kill('SIGTERM');
  const code = await cli.exited;
  const tookMs = performance.now() - sent;
  peer.destroy();
  assert.equal(code, 0, cli.stderr());
  assert.doesNotMatch(cli.stderr(), /did not stop within/, 'no component overran its share of the deadline');
  // The runtime enforces 2 s; the process's own exit (module teardown) is given 1 s more on a loaded machine.
  assert.ok(tookMs < 3000, `exited ${Math.round(tookMs)} ms after SIGTERM`);

  const counters = ofType(cli.events(), 'pipeline.counters').map((e) => e.data!.stage as string);
  assert.deepEqual([...counters].sort(), [...STAGES].sort(), 'one (final) counters event per component, none missing, none twice');
  // Sources stop first and the bus last; the sinks' (archive, HTTP) counters go out just before the bus closes.
  assert.deepEqual(counters, ['log', 'p2p.observer', 'detectors', 'health', 'http', 'archive', 'bus']);
  const observer = ofType(cli.events(), 'pipeline.counters').find((e) => e.data!.stage === 'p2p.observer')!;
  assert.equal((observer.data!.counters as Record<string, number>).inboundAccepted, 1);

  // The archive is a sink: it stopped after the bus and kept every final counters event, its own included.
  const db = new Database(join(dir, 'archive.sqlite'), { readonly: true });
  try {
    const rows = db.prepare("SELECT envelope FROM events WHERE type = 'pipeline.counters' ORDER BY id").all() as { envelope: string }[];
    const archived = rows.map((r) => (JSON.parse(r.envelope) as { data: { stage: string } }).data.stage);
    assert.deepEqual(archived, counters);
  } finally {
    db.close();
  }
});
