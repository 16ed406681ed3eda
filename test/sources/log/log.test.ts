/**
 * The log source on Bitcoin Core's real debug.log (test/fixtures/bitcoind/log):
 * every line becomes an event or is counted, message lines match an independent
 * count, and following a file survives rotation, truncation and partial lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseEvent } from '../../../src/events/schema.js';
import type { EventType, ObserverEvent } from '../../../src/events/types.js';
import { followFile, type FollowCounters } from '../../../src/sources/log/follow.js';
import { splitLine } from '../../../src/sources/log/parse.js';
import { startLogSource } from '../../../src/sources/log/source.js';

const LOGS = join(import.meta.dirname, '../../fixtures/bitcoind/log');
const dir = mkdtempSync(join(tmpdir(), 'peer-observer-log-'));

function ofType<T extends EventType>(events: ObserverEvent[], type: T): Extract<ObserverEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ObserverEvent, { type: T }> => e.type === type);
}

async function readLog(name: string): Promise<{ events: ObserverEvent[]; counters: Record<string, number>; text: string }> {
  const events: ObserverEvent[] = [];
  const path = join(LOGS, name);
  const source = startLogSource({
    path,
    nodeId: 'core-a',
    network: 'regtest',
    publish: (e) => events.push(parseEvent(JSON.parse(JSON.stringify(e)))),
    fromStart: true,
    once: true,
    countersEveryMs: 0,
  });
  await source.done;
  const last = ofType(events, 'pipeline.counters').at(-1)!;
  return { events, counters: last.data.counters, text: readFileSync(path, 'utf8') };
}

/** Independent of the parser: count Core's "received: X (N bytes)" / "sending X (N bytes)" lines per command. */
function countMessageLines(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/\] (received:|sending) (\S+) \((\d+) bytes\) peer=\d+/g)) {
    const key = `${m[1] === 'sending' ? 'out' : 'in'} ${m[2]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function countMessageEvents(events: ObserverEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of ofType(events, 'message')) {
    const key = `${e.data.dir} ${e.data.command}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

for (const name of ['debug-a.log', 'debug-b.log']) {
  describe(`log source on ${name}`, () => {
    it('every line is an event, a known line, blank, or counted unknown by category', async () => {
      const { events, counters, text } = await readLog(name);
      const lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop();
      assert.equal(counters['lines'], lines.length);
      assert.equal(counters['blank']! + counters['eventLines']! + counters['known.noEvent']! + counters['unknown']!, lines.length);
      const byCategory = Object.entries(counters)
        .filter(([k]) => k.startsWith('unknown.'))
        .reduce((n, [, v]) => n + v, 0);
      assert.equal(byCategory, counters['unknown']);
      assert.equal(counters['unknown.format'] ?? 0, 0, 'every non-blank line is in Core format');
      assert.equal(counters['unknownPeer'], 0, 'every peer was seen opening');
      assert.equal(counters['events'], events.length - 1, 'all events but the final counters');
      assert.ok(events.every((e) => e.source === 'log' && e.nodeId === 'core-a'));
    });

    it('the message events per command and direction match the log’s received/sending lines', async () => {
      const { events, text } = await readLog(name);
      const expected = countMessageLines(text);
      assert.ok(expected.size > 5);
      assert.deepEqual(countMessageEvents(events), expected);
    });
  });
}

describe('what debug-a.log says', () => {
  it('connections, handshakes, addr floods, header errors, blocks', async () => {
    const { events, text } = await readLog('debug-a.log');
    const opened = ofType(events, 'connection.opened');
    const closed = ofType(events, 'connection.closed');
    assert.equal(opened.length, (text.match(/Added connection/g) ?? []).length);
    assert.equal(closed.length, (text.match(/Cleared nodestate/g) ?? []).length);
    assert.equal(opened.length, 16);
    assert.ok(opened.every((e) => e.data.conn.direction === 'inbound' && e.data.netgroup === 'local' && e.data.local === ''));
    assert.deepEqual(opened[0]!.data.conn, { id: 0, direction: 'inbound', remote: '127.0.0.5:43799' });

    const hs = ofType(events, 'handshake.complete');
    assert.equal(hs.length, (text.match(/New inbound peer connected/g) ?? []).length);
    const peer1 = hs.find((e) => e.data.conn.id === 1)!.data;
    assert.equal(peer1.userAgent, '/Satoshi:27.0.0/');
    assert.equal(peer1.connType, 'inbound');
    assert.equal(peer1.transport, 'v1');
    assert.equal(peer1.wtxidRelay, true);
    assert.equal(peer1.addrV2, true);

    const addr = ofType(events, 'addr.received');
    assert.equal(addr.length, 12);
    const flood = addr.filter((e) => e.data.addresses === 1000);
    assert.ok(flood.length >= 5);
    assert.ok(flood.some((e) => e.data.processed === 1 && e.data.rateLimited === 999));
    assert.equal(
      addr.reduce((n, e) => n + e.data.rateLimited, 0),
      [...text.matchAll(/(\d+) rate-limited\)/g)].reduce((n, m) => n + Number(m[1]), 0),
    );

    const v = ofType(events, 'violation');
    assert.deepEqual(
      v.map((e) => [e.data.conn.id, e.data.kind, e.data.action, e.data.command, e.data.size]),
      [
        [10, 'bad-checksum', 'drop-message', 'ping', 8],
        [10, 'oversize', 'disconnect', 'addr', 2147483647],
      ],
    );
    const c10 = closed.find((e) => e.data.conn.id === 10)!.data;
    assert.equal(c10.reason, 'protocol-violation');
    assert.equal(c10.detail, 'Header error: Size too large');
    const c14 = closed.find((e) => e.data.conn.id === 14)!.data;
    assert.equal(c14.reason, 'peer-closed');
    assert.equal(c14.handshakeComplete, true);
    assert.ok(c14.messagesOut > 20 && c14.bytesOut > 9000);
    assert.equal(closed.at(-1)!.data.reason, 'shutdown');

    const blocks = ofType(events, 'block.connected');
    assert.equal(blocks.length, (text.match(/UpdateTip: new best=/g) ?? []).length);
    assert.equal(blocks.at(-1)!.data.height, 112);
  });

  it('debug-b.log: an outbound manual peer, block download and mempool acceptance', async () => {
    const { events } = await readLog('debug-b.log');
    const opened = ofType(events, 'connection.opened');
    assert.equal(opened.length, 1);
    assert.deepEqual(opened[0]!.data.conn, { id: 0, direction: 'outbound', remote: '127.0.0.1:18600' });
    assert.equal(ofType(events, 'handshake.complete')[0]!.data.connType, 'manual');
    const acc = ofType(events, 'mempool.tx');
    assert.equal(acc.length, 3);
    assert.deepEqual(acc[0]!.data, {
      action: 'accepted',
      txid: 'a2ccfdcd92956e8682eb5dc8d347c400618bcbbb8bb3be586441473e7569bedb',
      wtxid: 'a368580eface376ec6c6e3c4020a07eaf6c51debbe06f4b52138b371e75f4396',
      vsize: null,
      feeSat: null,
      reason: null,
      peerId: 0,
      replacedBy: null,
    });
    assert.ok(ofType(events, 'message').filter((e) => e.data.command === 'block' && e.data.dir === 'in').length === 110);
  });
});

describe('log line parsing', () => {
  it('timestamps with and without micros, thread names, categories with levels', () => {
    const a = splitLine('2026-11-23T19:58:37.976521Z [msghand] [net] received: ping (8 bytes) peer=1', undefined)!;
    assert.equal(a.timeUs, Date.parse('2026-11-23T19:58:37Z') * 1000 + 976521);
    assert.equal(a.thread, 'msghand');
    assert.equal(a.category, 'net');
    const b = splitLine('2026-11-23T19:58:37Z [net:warning] something', false)!;
    assert.equal(b.timeUs, Date.parse('2026-11-23T19:58:37Z') * 1000);
    assert.equal(b.thread, null);
    assert.equal(b.category, 'net');
    const c = splitLine('2026-11-23T19:58:37Z [init] Using data directory', true)!;
    assert.equal(c.thread, 'init');
    assert.equal(c.category, 'none');
    assert.equal(splitLine('garbage \u0000\u001b[31m', undefined), null);
  });

  it('hostile lines are counted, never fatal', async () => {
    const path = join(dir, 'hostile.log');
    writeFileSync(
      path,
      [
        '2026-11-23T19:58:37Z [msghand] [net] received: \u001b[31m (8 bytes) peer=1',
        '2026-11-23T19:58:37Z [msghand] [net] received: ping (99999999999999999999 bytes) peer=1',
        '2026-13-45T99:99:99Z [x] [net] Added connection to 1.2.3.4:1 peer=2',
        'x'.repeat(200_000),
        '2026-11-23T19:58:37Z [msghand] [net] Received addr: 1000 addresses (1 processed, 999 rate-limited) from peer=77',
      ].join('\n') + '\n',
    );
    const events: ObserverEvent[] = [];
    const source = startLogSource({
      path,
      nodeId: 'n',
      network: 'mainnet',
      publish: (e) => events.push(e),
      fromStart: true,
      once: true,
      countersEveryMs: 0,
    });
    await source.done;
    for (const e of events) parseEvent(JSON.parse(JSON.stringify(e))); // all valid
    const counters = ofType(events, 'pipeline.counters').at(-1)!.data.counters;
    assert.equal(counters['lines'], 5);
    assert.equal(counters['truncatedLines'], 1);
    assert.equal(counters['unknownPeer'], 2);
    assert.equal(ofType(events, 'addr.received')[0]!.data.conn.direction, 'unknown');
  });
});

describe('following a file', () => {
  async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('rotation (rename + new file), truncation and partial lines lose no line', async () => {
    const path = join(dir, 'debug.log');
    writeFileSync(path, 'line 1\nline 2\nline 3 is par');
    const got: string[] = [];
    const counters: FollowCounters = { bytes: 0, rotations: 0, truncations: 0, truncatedLines: 0, missing: 0 };
    const ac = new AbortController();
    const done = followFile({ path, fromStart: true, pollMs: 10, signal: ac.signal, counters, onLine: (l) => got.push(l) });
    await until('first lines', () => got.length === 2);
    appendFileSync(path, 'tial\nline 4\n');
    await until('partial line completed', () => got.length === 4);

    // The writer still holds the old file: lines written after the rename must not be lost.
    const writer = await open(path, 'a');
    renameSync(path, `${path}.1`);
    await writer.write('line 5 (old file, after rename)\n');
    await writer.close();
    writeFileSync(path, 'line 6 (new file)\nline 7\n');
    await until('rotation', () => got.length === 7);
    assert.equal(counters.rotations, 1);

    truncateSync(path, 0);
    await until('truncation seen', () => counters.truncations === 1);
    appendFileSync(path, 'line 8 (after truncation)\nline 9 without newline');
    await until('after truncation', () => got.length === 8);
    ac.abort();
    await done;
    assert.deepEqual(got, [
      'line 1',
      'line 2',
      'line 3 is partial',
      'line 4',
      'line 5 (old file, after rename)',
      'line 6 (new file)',
      'line 7',
      'line 8 (after truncation)',
    ]);
  });

  it('starts at the end by default (tail -f); a file that appears later is read from its start', async () => {
    const path = join(dir, 'existing.log');
    writeFileSync(path, 'old 1\n');
    const got: string[] = [];
    const ac = new AbortController();
    const counters: FollowCounters = { bytes: 0, rotations: 0, truncations: 0, truncatedLines: 0, missing: 0 };
    const done = followFile({ path, pollMs: 10, signal: ac.signal, counters, onLine: (l) => got.push(l) });
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(path, 'new 1\n');
    await until('new line', () => got.length >= 1);
    ac.abort();
    await done;
    assert.deepEqual(got, ['new 1']);

    const later = join(dir, 'later.log');
    const got2: string[] = [];
    const ac2 = new AbortController();
    const counters2: FollowCounters = { bytes: 0, rotations: 0, truncations: 0, truncatedLines: 0, missing: 0 };
    const done2 = followFile({ path: later, pollMs: 10, signal: ac2.signal, counters: counters2, onLine: (l) => got2.push(l) });
    await until('missing counted', () => counters2.missing > 0);
    writeFileSync(later, 'first\n');
    await until('line', () => got2.length >= 1);
    ac2.abort();
    await done2;
    assert.deepEqual(got2, ['first']);
  });

  it('reads a FIFO', { skip: spawnSync('mkfifo', ['--version']).status !== 0 }, async () => {
    const path = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [path]).status, 0);
    const got: string[] = [];
    const ac = new AbortController();
    const done = followFile({ path, pollMs: 10, signal: ac.signal, onLine: (l) => got.push(l) });
    const w = await open(path, 'w');
    await w.write('fifo 1\nfifo 2\n');
    await w.close();
    await until('fifo lines', () => got.length === 2);
    ac.abort();
    await done;
    assert.deepEqual(got, ['fifo 1', 'fifo 2']);
  });
});
