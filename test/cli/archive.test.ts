/**
 * `archive`, `query`, `replay` and `run --data-dir`, through the real bin (and a
 * real nats-server where NATS is involved): a real session archived and replayed
 * into the logger line for line, exact counts from several observers, every
 * filter and flag shown to change the result, bad flags one line and exit 2.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { replay, parseReplayFlags } from '../../src/cli/replay.js';
import { renderBar } from '../../src/cli/progress.js';
import { archivePath, openArchiveForWriting } from '../../src/consumers/archive/db.js';
import { ArchiveStore } from '../../src/consumers/archive/store.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { formatLine } from '../../src/consumers/logger/logger.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { pcapEvents } from '../../src/sources/replay/pcap.js';
import { runHonestPeer } from '../../src/simulate/honest-peer.js';
import { T0_US, counters, message, opened, seqOf } from '../archive/events.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { type Cli, listeningPort, runCli, startCli } from './helpers.js';

const PCAP = fileURLToPath(new URL('../fixtures/bitcoind/pcap/regtest-v1.pcap', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'po-archive-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);
const children: Cli[] = [];
function start(args: string[]): Cli {
  const cli = startCli(args);
  children.push(cli);
  return cli;
}

/** An archive written directly (no process): the fixture for query and replay. */
function writeArchive(events: ObserverEvent[], dataDir = freshDir()): string {
  const store = new ArchiveStore(openArchiveForWriting(dataDir));
  store.write(events);
  store.close();
  return dataDir;
}

async function honestPeers(port: number, ms: number, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), ms);
      try {
        await runHonestPeer({
          network: NETWORKS.regtest,
          host: '127.0.0.1',
          port,
          trafficIntervalMs: 40,
          signal: ac.signal,
          localAddress: `127.0.0.${30 + i}`,
        });
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** `run --data-dir` with honest peers for a while; returns the logger's stdout and the archive dir. */
async function archivedSession(extra: string[], nodeId: string): Promise<{ dataDir: string; stdout: string; stderr: string }> {
  const dataDir = freshDir();
  const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', nodeId, '--data-dir', dataDir, ...extra]);
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening', 15_000);
  assert.match(cli.stderr(), new RegExp(`archiving to ${dataDir.replaceAll('/', '\\/')}`));
  await honestPeers(listeningPort(cli.stderr())!, 700, 3);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await cli.stop(), 0);
  return { dataDir, stdout: cli.stdout(), stderr: cli.stderr() };
}

const synthetic: ObserverEvent[] = [
  message(0, { nodeId: 'fra-1', remote: '198.51.100.4:50412', command: 'addr' }),
  message(1, { nodeId: 'fra-1', remote: '198.51.100.4:50999', command: 'ping' }),
  message(2, { nodeId: 'nyc-1', remote: '[2001:db8::1]:8333', command: 'addr' }),
  opened(3, '198.51.100.4:50412', 'nyc-1'),
  counters(4, 'fra-1'),
  message(5, { nodeId: 'sgp-1', remote: '203.0.113.9:8333', command: 'inv' }),
];
const seqsOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as ObserverEvent).timeUs - T0_US)
    .map((us) => us / 1000);

describe('archive, query, replay (real processes)', { timeout: 120_000 }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop('SIGKILL')));
    await server?.stop();
  });

  it('run --data-dir archives a real session; replay --speed max prints exactly the original logger lines', async () => {
    const session = await archivedSession([], 'obs-r');
    const lines = session.stdout.split('\n');
    assert.ok(lines.length > 40, `a real session: ${lines.length} lines`);
    assert.match(session.stdout, /^# CONN .* opened inbound/m);
    assert.match(session.stdout, /^<-- .* version /m);
    const m = /peer-observer: archive: received=(\d+) written=(\d+) batches=\d+ failed=0 pruned=0 dropped=0/.exec(session.stderr);
    assert.ok(m, session.stderr);
    assert.equal(m[1], m[2]);
    assert.equal(Number(m[2]), lines.length - 1, 'every printed line is archived');

    const replayed = await runCli(['replay', '--data-dir', session.dataDir, '--speed', 'max']);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.equal(replayed.stdout, session.stdout);
    assert.match(
      replayed.stderr,
      new RegExp(`replay: published=${lines.length - 1} of ${lines.length - 1} rejected=0 printed=${lines.length - 1} dropped=0`),
    );
    assert.doesNotMatch(replayed.stderr, /\[#/, 'no progress bar when stderr is not a terminal');

    // query: the table and --json, filtered by type and peer.
    const opened = session.stdout.split('\n').filter((l) => / opened inbound /.test(l));
    const table = await runCli(['query', '--data-dir', session.dataDir, '--type', 'connection.opened']);
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.split('\n').filter(Boolean);
    assert.match(rows[0]!, /^TIME\s+NODE\s+TYPE\s+PEER\s+SUMMARY$/);
    assert.equal(rows.length - 1, opened.length);
    assert.match(rows[1]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z obs-r\s+connection\.opened\s+127\.0\.0\.3\d:\d+\s+# CONN conn=\d+ opened inbound/);
    assert.match(table.stderr, new RegExp(`${opened.length} event\\(s\\)`));
    const json = await runCli(['query', '--data-dir', session.dataDir, '--json', '--peer', '127.0.0.30']);
    const events = json.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ObserverEvent);
    assert.ok(events.length > 5);
    for (const e of events) assert.match((e.data as { conn: { remote: string } }).conn.remote, /^127\.0\.0\.30:\d+$/);
  });

  it('replay --json reproduces run --json, and the archive keeps the envelope byte for byte', async () => {
    const session = await archivedSession(['--json'], 'obs-j');
    const replayed = await runCli(['replay', '--data-dir', session.dataDir, '--speed', 'max', '--json']);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.equal(replayed.stdout, session.stdout);
    const queried = await runCli(['query', '--data-dir', session.dataDir, '--json']);
    assert.equal(queried.stdout, session.stdout);
  });

  it('archive --nats: two observers, one archive; exact counts per node id; --retention-days applied at start', async () => {
    const dataDir = freshDir();
    // Old events already in the archive: --retention-days 1 deletes them at start, keeps the recent one.
    const old = Array.from({ length: 50 }, (_, i) => message(i, { nodeId: 'old', timeUs: Date.now() * 1000 - 3 * 86_400e6 + i }));
    writeArchive([...old, message(99, { nodeId: 'recent', timeUs: Date.now() * 1000 - 3600e6 })], dataDir);
    const arch = start(['archive', '--nats', server.url, '--data-dir', dataDir, '--retention-days', '1']);
    await arch.until(() => arch.stderr().includes('archiving from NATS'), 'archive ready', 15_000);
    assert.match(arch.stderr(), /\(retention 1 days, max \d+ MiB: 10% of free space, at most 10 GiB\)/);
    const obs = ['obs-1', 'obs-2'].map((id) =>
      start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', id, '--nats', server.url]),
    );
    for (const o of obs) await o.until(() => listeningPort(o.stderr()) !== undefined, 'listening', 15_000);
    await Promise.all(obs.map((o) => honestPeers(listeningPort(o.stderr())!, 600, 2)));
    const published: number[] = [];
    for (const o of obs) {
      assert.equal(await o.stop(), 0);
      const m = /nats: published=(\d+) sent=(\d+) buffered=0 dropped=0/.exec(o.stderr());
      assert.ok(m, o.stderr());
      assert.equal(m[1], m[2]);
      published.push(Number(m[1]));
    }
    await new Promise((r) => setTimeout(r, 300)); // the last batch's flush
    for (const [i, id] of ['obs-1', 'obs-2'].entries()) {
      const q = await runCli(['query', '--data-dir', dataDir, '--node-id', id, '--json']);
      const got = q.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ObserverEvent);
      assert.equal(got.length, published[i], `${id}: archived while the archive is running`);
      assert.ok(got.every((e) => e.nodeId === id));
    }
    assert.equal(await arch.stop(), 0);
    const m =
      /archive: received=(\d+) written=(\d+) batches=\d+ failed=0 pruned=50 dropped=0 bytes=\d+ folded=0 aggregates=0 rejected=0/.exec(
        arch.stderr(),
      );
    assert.ok(m, arch.stderr());
    assert.equal(m[1], m[2]);
    const all = await runCli(['query', '--data-dir', dataDir, '--json', '--node-id', 'old', '--node-id', 'recent']);
    assert.deepEqual(seqsOf(all.stdout).length, 1);
    assert.match(all.stdout, /"nodeId":"recent"/);
  });

  it('replay --nats publishes the archive to NATS: a log consumer gets exactly those events, in either batch encoding', async () => {
    const dataDir = writeArchive(synthetic);
    const tap = await connect({ servers: server.url });
    const formats: string[] = [];
    tap.subscribe('po.v1.>', { callback: (_err, msg) => void formats.push(msg.headers?.get('Po-Batch')?.split(' ')[0] ?? 'none') });
    await tap.flush();
    for (const encoding of [[], ['--nats-encoding', 'json']]) {
      formats.length = 0;
      const log = start(['log', '--nats', server.url, '--json']);
      await log.until(() => log.stderr().includes('logging from NATS'), 'log ready', 15_000);
      const r = await runCli(['replay', '--data-dir', dataDir, '--nats', server.url, '--speed', 'max', ...encoding]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /replay: published=6 of 6 rejected=0 sent=6 dropped=0/);
      await log.until(() => log.events().length >= 6, 'six events', 10_000);
      assert.equal(await log.stop(), 0);
      assert.deepEqual(log.events(), JSON.parse(JSON.stringify(synthetic)));
      await tap.flush();
      assert.ok(formats.length > 0);
      assert.deepEqual(new Set(formats), new Set([encoding.length ? 'v1' : 'v2']), 'the batch format on the wire');
    }
    await tap.close();
    const bad = await runCli(['replay', '--data-dir', dataDir, '--nats', server.url, '--nats-encoding', 'xml']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--nats-encoding "xml": expected one of msgpack, json/);
    const alone = await runCli(['replay', '--data-dir', dataDir, '--nats-encoding', 'json']);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /--nats-encoding needs --nats/);
  });

  it('query: --since --until --peer --type --node-id --command --limit, each exact', async () => {
    const dataDir = writeArchive(synthetic);
    const q = async (...args: string[]) => {
      const r = await runCli(['query', '--data-dir', dataDir, '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return seqsOf(r.stdout);
    };
    assert.deepEqual(await q(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(await q('--since', '2024-06-01T12:00:00.001Z', '--until', '2024-06-01T14:00:00.004+02:00'), [1, 2, 3]);
    assert.deepEqual(await q('--since', '-1h'), []);
    assert.deepEqual(await q('--until', '-1h'), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(await q('--peer', '198.51.100.4'), [0, 1, 3]);
    assert.deepEqual(await q('--peer', '198.51.100.4:50412'), [0, 3]);
    assert.deepEqual(await q('--peer', '[2001:db8::1]:8333'), [2]);
    assert.deepEqual(await q('--type', 'connection.opened', '--type', 'pipeline.counters'), [3, 4]);
    assert.deepEqual(await q('--node-id', 'fra-1,sgp-1'), [0, 1, 4, 5]);
    assert.deepEqual(await q('--command', 'addr'), [0, 2]);
    assert.deepEqual(await q('--limit', '2'), [0, 1]);
    const table = await runCli(['query', '--data-dir', dataDir, '--command', 'addr']);
    assert.deepEqual(table.stdout.split('\n').slice(1, -1), [
      '2024-06-01T12:00:00.000000Z fra-1        message            198.51.100.4:50412    <-- conn=1 addr 8B count=1 192.0.2.1:8333',
      '2024-06-01T12:00:00.002000Z nyc-1        message            [2001:db8::1]:8333    <-- conn=1 addr 8B count=1 192.0.2.1:8333',
    ]);
  });

  it('replay --speed keeps the recorded timing, scaled; a progress bar only on a terminal', async () => {
    // Events 0, 400, 800, 1200 ms apart.
    const events = [0, 1, 2, 3].map((i) => message(i, { timeUs: T0_US + i * 400_000 }));
    const dataDir = writeArchive(events);
    const timed = async (speed?: string, tty = false) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      if (tty) (stderr as unknown as { isTTY: boolean }).isTTY = true;
      let err = '';
      stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      const at: number[] = [];
      const t0 = performance.now();
      stdout.on('data', (b: Buffer) =>
        b
          .toString()
          .split('\n')
          .filter(Boolean)
          .forEach(() => at.push(performance.now() - t0)),
      );
      await replay(parseReplayFlags({ dataDir, ...(speed ? { speed } : {}) }), new AbortController().signal, { stdout, stderr });
      return { at, err };
    };
    const normal = await timed();
    assert.equal(normal.at.length, 4);
    assert.ok(normal.at[3]! >= 1150 && normal.at[3]! < 1700, `speed 1: last line at ${normal.at[3]} ms`);
    const fast = await timed('4');
    assert.ok(fast.at[3]! >= 280 && fast.at[3]! < 700, `speed 4: last line at ${fast.at[3]} ms`);
    const max = await timed('max', true);
    assert.ok(max.at[3]! < 200, `max: ${max.at[3]} ms`);
    assert.ok(max.err.includes(`\r${renderBar(4, 4, 'replay')}`), JSON.stringify(max.err));
    assert.doesNotMatch(normal.err, /\[#/);
    assert.equal(renderBar(3, 10, 'replay'), `replay [#########---------------------]  30% 3/10`);
    // Filters apply to replay too.
    const some = await runCli([
      'replay',
      '--data-dir',
      dataDir,
      '--speed',
      'max',
      '--json',
      '--since',
      '2024-06-01T12:00:00.4Z',
      '--limit',
      '2',
    ]);
    assert.deepEqual(seqsOf(some.stdout), [400, 800]);
  });

  it('replay --pcap --network --node-id: the events of the capture, exactly what the pcap source yields, printed or as JSON', async () => {
    const expected: ObserverEvent[] = [];
    for await (const e of pcapEvents(PCAP, { network: NETWORKS.regtest, nodeId: 'cap-1' })) expected.push(e);
    assert.ok(expected.filter((e) => e.type === 'message').length > 50);
    const json = await runCli(['replay', '--pcap', PCAP, '--network', 'regtest', '--node-id', 'cap-1', '--speed', 'max', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      json.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown),
      JSON.parse(JSON.stringify(expected)),
    );
    assert.match(json.stderr, new RegExp(`replay: published=${expected.length} records=\\d+ printed=${expected.length} dropped=0\\n$`));
    const text = await runCli(['replay', '--pcap', PCAP, '--network', 'regtest', '--speed', 'max']);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, expected.map((e) => formatLine({ ...e, nodeId: 'pcap' } as ObserverEvent, false)).join(''));
    // The default network is mainnet: this regtest capture is then the wrong network.
    const wrong = await runCli(['replay', '--pcap', PCAP, '--speed', 'max', '--json']);
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.match(wrong.stdout, /"kind":"wrong-network"/);
  });

  it('--max-db-mb on archive and run; --retention-days on run: the file shrinks, the newest events stay', async () => {
    const big = () => Array.from({ length: 12_000 }, (_, i) => message(i, { pad: 400, timeUs: Date.now() * 1000 - 86_400e6 + i }));
    const a = writeArchive(big());
    const before = statSync(archivePath(a)).size;
    const arch = start(['archive', '--nats', server.url, '--data-dir', a, '--max-db-mb', '2']);
    await arch.until(() => arch.stderr().includes('archiving from NATS'), 'archive ready', 15_000);
    assert.match(arch.stderr(), /\(max 2 MiB\)/);
    assert.equal(await arch.stop(), 0);
    assert.ok(
      statSync(archivePath(a)).size <= 2 * 1024 * 1024 && before > 5 * 1024 * 1024,
      `${before} -> ${statSync(archivePath(a)).size}`,
    );
    const newest = await runCli(['query', '--data-dir', a, '--json', '--type', 'message']);
    assert.equal(seqOf(JSON.parse(newest.stdout.split('\n').at(-2)!) as ObserverEvent), 11_999);

    const r = writeArchive(big());
    const run = start([
      'run',
      '--network',
      'regtest',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      r,
      '--max-db-mb',
      '2',
      '--retention-days',
      '0.5',
    ]);
    await run.until(() => listeningPort(run.stderr()) !== undefined, 'listening', 15_000);
    assert.equal(await run.stop(), 0);
    assert.match(run.stderr(), /archive: received=\d+ written=\d+ batches=\d+ failed=0 pruned=12000 /);
    assert.ok(statSync(archivePath(r)).size < 1024 * 1024);
  });
});

describe('archive, query, replay: bad flags → one line, exit 2', { timeout: 120_000, concurrency: 4 }, () => {
  const cases: [string[], RegExp][] = [
    [['archive', '--data-dir', '/tmp/x'], /--nats <url> is required/],
    [['archive', '--nats', 'http://x'], /--nats "http:\/\/x": expected a nats:\/\/ or tls:\/\/ URL/],
    [['archive', '--nats', 'nats://127.0.0.1:1'], /--data-dir <dir> is required/],
    [
      ['archive', '--nats', 'nats://127.0.0.1:1', '--data-dir', '/tmp/x', '--retention-days', '0'],
      /--retention-days "0": expected a number of days greater than 0/,
    ],
    [
      ['archive', '--nats', 'nats://127.0.0.1:1', '--data-dir', '/tmp/x', '--max-db-mb', 'big'],
      /--max-db-mb "big": expected a number of MiB \(0: no cap\)/,
    ],
    [['query'], /--data-dir <dir> is required/],
    [['query', '--data-dir', '/tmp/x', '--since', 'yesterday'], /--since "yesterday": expected an ISO 8601 time/],
    [['query', '--data-dir', '/tmp/x', '--until', '2024-13-01'], /--until "2024-13-01": expected an ISO 8601 time/],
    [['query', '--data-dir', '/tmp/x', '--since', '-1h', '--until', '-2h'], /--until "-2h": must be later than --since "-1h"/],
    [['query', '--data-dir', '/tmp/x', '--peer', 'host.example:8333'], /--peer "host\.example:8333": invalid IP address/],
    [['query', '--data-dir', '/tmp/x', '--type', 'messages'], /--type "messages": expected one of connection\.opened/],
    [['query', '--data-dir', '/tmp/x', '--node-id', 'a b'], /--node-id "a b": expected 1-64 letters/],
    [['query', '--data-dir', '/tmp/x', '--command', 'toolongcommand'], /--command "toolongcommand": expected a P2P command/],
    [['query', '--data-dir', '/tmp/x', '--limit', '0'], /--limit "0": expected a positive integer/],
    [['replay', '--data-dir', '/tmp/x', '--speed', 'fast'], /--speed "fast": expected max or a factor/],
    [['replay', '--data-dir', '/tmp/x', '--speed', '0'], /--speed "0": expected max or a factor/],
    [['replay', '--data-dir', '/tmp/x', '--nats', 'nats://127.0.0.1:1', '--json'], /--json prints the replayed events here/],
    [['replay', '--data-dir', '/tmp/x', '--nats', ''], /--nats "": /],
    [['replay'], /--data-dir <dir> or --pcap <file> is required/],
    [['replay', '--pcap', PCAP, '--data-dir', '/tmp/x'], /--pcap and --data-dir: replay one or the other/],
    [['replay', '--pcap', '/nonexistent.pcap'], /--pcap "\/nonexistent\.pcap": cannot read: no such file/],
    [['replay', '--pcap', PCAP, '--network', 'bitcoin'], /--network "bitcoin": expected one of mainnet/],
    [['replay', '--pcap', PCAP, '--since', '-1h'], /--since filters an archive; with --pcap every event/],
    [['replay', '--pcap', PCAP, '--node-id', 'a,b'], /--node-id: with --pcap, one node id/],
    [['replay', '--data-dir', '/tmp/x', '--network', 'regtest'], /--network goes with --pcap/],
    [['run', '--data-dir', ''], /--data-dir "": expected a directory/],
    [['run', '--retention-days', '7'], /--retention-days needs --data-dir/],
    [['run', '--data-dir', '/tmp/x', '--max-db-mb', '-1'], /--max-db-mb "-1": expected a number of MiB \(0: no cap\)/],
    [['run', '--data-dir', '/tmp/x', '--nats', 'nats://127.0.0.1:1'], /with --nats, run `peer-observer archive --nats URL --data-dir DIR`/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^peer-observer: error: /);
      assert.match(lines[0]!, pattern);
      assert.equal(r.stdout, '');
    });
  }

  it('no archive in --data-dir, or not writable: one line, exit 1', async () => {
    const r = await runCli(['query', '--data-dir', join(root, 'nothing-here')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^peer-observer: error: no archive in .*nothing-here \(archive\.sqlite not found\)\n$/);
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    const w = await runCli(['run', '--listen', '127.0.0.1:0', '--data-dir', join(file, 'sub')]);
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, /^peer-observer: error: archive: cannot create .*a-file\/sub: ENOTDIR/);
    assert.equal(w.stderr.split('\n').length, 2);
  });
});
