/**
 * Floods against the archive through the real bin and real TCP (issue 12,
 * finding 5): before, an addr flood grew the archive 2.4 times the bytes
 * received, a ping flood 15-22 times, with no cap by default, and
 * `--max-db-mb 100` overshot to 144 MB.
 *
 * - an addr flood leaves the archive under its cap with the flood's counts
 *   (messages and entries) exact in `query --count`, and in `replay`;
 * - without folding (`--fold-rate 0`), the same flood is cut by the cap: the
 *   files on disk (sampled every 5 ms) never pass it by more than one batch,
 *   and the newest events are the ones kept;
 * - a ping flood is stored in fewer bytes than it took on the wire, with the
 *   count per direction exact in `query --json` and in `replay`;
 * - the default cap is 10 % of the free space (at most 10 GiB), shown at start.
 *
 * The addr flood's size is a parameter: PEER_OBSERVER_TEST_FLOOD_MB (default
 * 60, 2000 messages); docs/benchmarks.md has the 600 MB run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileBytes } from '../../src/consumers/archive/db.js';
import { type Cli, listeningPort, runCli, startCli } from '../cli/helpers.js';
import { flood } from './flood.js';

const root = mkdtempSync(join(tmpdir(), 'po-archive-flood-'));
const children: Cli[] = [];
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(root, `d${n++}`);

const ADDR_FRAME_BYTES = 30_027; // 24-byte header + 1000 entries of 30 bytes + the CompactSize 3
const FLOOD_MB = Number(process.env.PEER_OBSERVER_TEST_FLOOD_MB ?? 60);
const FLOOD_MESSAGES = Math.max(100, Math.round((FLOOD_MB * 1e6) / ADDR_FRAME_BYTES));
const MIB = 1024 * 1024;

/** `run --data-dir` with `extra` flags; its port, and a sampler of the archive's size on disk (max so far). */
async function observer(extra: string[]) {
  const dataDir = freshDir();
  const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...extra]);
  children.push(cli);
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening', 15_000);
  let peak = fileBytes(dataDir);
  const timer = setInterval(() => (peak = Math.max(peak, fileBytes(dataDir))), 5);
  return {
    cli,
    dataDir,
    port: listeningPort(cli.stderr())!,
    async stop() {
      assert.equal(await cli.stop('SIGINT', 60_000), 0, cli.stderr());
      clearInterval(timer);
      peak = Math.max(peak, fileBytes(dataDir));
      return { peak, end: fileBytes(dataDir) };
    },
  };
}

/** The archive's exit line as numbers. */
function exitCounters(stderr: string): Record<string, number> {
  const line = /archive: (received=.*)$/m.exec(stderr)?.[1] ?? '';
  return Object.fromEntries(line.split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
}

async function count(dataDir: string, ...filter: string[]): Promise<Record<string, number>> {
  const r = await runCli(['query', '--data-dir', dataDir, '--count', ...filter]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split(' ')
      .map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]),
  );
}

/** Events of one command with one peer, by direction, from `query --json` (an aggregate counts its events). */
async function byDirection(dataDir: string, command: string, peer: string) {
  const q = await runCli(['query', '--data-dir', dataDir, '--json', '--command', command, '--peer', peer]);
  assert.equal(q.code, 0, q.stderr);
  const out = { in: 0, out: 0, aggregates: 0 };
  for (const line of q.stdout.trim().split('\n')) {
    const v = JSON.parse(line) as { aggregate?: { count: number }; sample?: { data: { dir: 'in' | 'out' } }; data?: { dir: 'in' | 'out' } };
    out[(v.sample ?? v).data!.dir] += v.aggregate?.count ?? 1;
    if (v.aggregate) out.aggregates++;
  }
  return out;
}

describe('archive under floods (real bin, real TCP)', { timeout: 180_000 }, () => {
  it(`an addr flood of ${FLOOD_MB} MB stays under the cap, its counts exact in query --count and replay`, async () => {
    const cap = 8;
    const o = await observer(['--max-db-mb', String(cap)]);
    assert.match(o.cli.stderr(), new RegExp(`archiving to ${o.dataDir.replaceAll('/', '\\/')} \\(max ${cap} MiB\\)`));
    const sent = await flood({ port: o.port, command: 'addr', count: FLOOD_MESSAGES });
    const { peak, end } = await o.stop();
    const c = exitCounters(o.cli.stderr());
    assert.equal(c.dropped, 0, o.cli.stderr());
    assert.equal(c.failed, 0);
    assert.ok(peak <= cap * MIB, `peak ${peak} over the cap`);
    assert.ok(end <= cap * MIB, `end ${end}`);
    const q = await count(o.dataDir, '--command', 'addr', '--peer', sent.local);
    assert.equal(q.events, sent.sent, JSON.stringify(q));
    assert.equal(q.items, sent.entries);
    assert.ok(q.folded! > 0 && q.stored! + q.folded! === q.events, JSON.stringify(q));
    assert.ok(end < sent.bytes / 10, `${end} bytes on disk for ${sent.bytes} received`);
    // replay expands the aggregates: exactly as many addr events as were received.
    const r = await runCli(['replay', '--data-dir', o.dataDir, '--command', 'addr', '--peer', sent.local, '--speed', 'max'], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, sent.sent);
    assert.match(
      r.stderr,
      new RegExp(`published=${sent.sent} of ${sent.sent} rejected=0 printed=${sent.sent} dropped=0 expanded=${q.folded}`),
    );
  });

  it('without folding, the cap holds during the flood: never more than one batch over, the newest events kept', async () => {
    const cap = 8;
    const o = await observer(['--max-db-mb', String(cap), '--fold-rate', '0']);
    const messages = Math.min(FLOOD_MESSAGES, 600); // 18 MB on the wire, 48 MB of rows: six times the cap
    const sent = await flood({ port: o.port, command: 'addr', count: messages });
    const { peak, end } = await o.stop();
    const c = exitCounters(o.cli.stderr());
    const batch = (cap * MIB) / 16; // a batch is at most a sixteenth of the cap
    assert.ok(peak <= cap * MIB + batch, `peak ${peak} over ${cap} MiB + one batch (${batch})`);
    assert.ok(end <= cap * MIB, `end ${end}`);
    assert.ok(c.pruned! > 0, JSON.stringify(c));
    assert.equal(c.written, c.received);
    const q = await count(o.dataDir, '--command', 'addr');
    assert.equal(q.folded, 0);
    assert.ok(q.events! > 0 && q.events! < messages, JSON.stringify(q));
    // The oldest went first: the connection's opening is gone, its close (the newest event) is there.
    assert.equal((await count(o.dataDir, '--type', 'connection.opened', '--peer', sent.local)).events, 0);
    assert.equal((await count(o.dataDir, '--type', 'connection.closed', '--peer', sent.local)).events, 1);
  });

  it('a ping flood takes less disk than wire, the count per direction exact in query and replay', async () => {
    const o = await observer([]);
    const sent = await flood({ port: o.port, command: 'ping', count: 20_000, perSecond: 10_000 });
    const { end } = await o.stop();
    assert.equal(exitCounters(o.cli.stderr()).dropped, 0);
    assert.ok(end < sent.bytes, `${end} bytes on disk for ${sent.bytes} on the wire`);
    // Every ping the peer sent (the flood and the last one) is counted, and every pong we answered: events and
    // aggregates, by direction, from query --json.
    const pings = await byDirection(o.dataDir, 'ping', sent.local);
    assert.equal(pings.in, sent.sent + 1);
    assert.ok(pings.aggregates > 0);
    const pongs = await byDirection(o.dataDir, 'pong', sent.local);
    assert.equal(pongs.out, sent.sent + 1);
    // replay expands the aggregates: as many pong events as were sent (and the one the peer answered us).
    const r = await runCli(['replay', '--data-dir', o.dataDir, '--command', 'pong', '--peer', sent.local, '--speed', 'max', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const replayed = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { data: { dir: string } });
    assert.equal(replayed.filter((e) => e.data.dir === 'out').length, sent.sent + 1);
    assert.equal(replayed.length, pongs.out + pongs.in);
  });

  it('the default cap is 10% of the free space, at most 10 GiB; --max-db-mb 0 is none', async () => {
    const o = await observer([]);
    const m = /\(max (\d+) MiB: 10% of free space, at most 10 GiB\)/.exec(o.cli.stderr());
    assert.ok(m, o.cli.stderr());
    const fs = statfsSync(o.dataDir);
    const expected = Math.min(10 * 1024, (fs.bavail * fs.bsize + fileBytes(o.dataDir)) / 10 / MIB);
    assert.ok(Math.abs(Number(m[1]) - expected) <= 2, `${m[1]} MiB, expected about ${expected}`);
    await o.stop();
    const none = await observer(['--max-db-mb', '0']);
    assert.match(none.cli.stderr(), /\(no size cap\)/);
    await none.stop();
  });
});
