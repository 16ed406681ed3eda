/**
 * The usdt source on Bitcoin Core's recorded tracepoints
 * (test/fixtures/bitcoind/usdt/usdt-events.jsonl), on the output format of our
 * own script (deploy/bpftrace/peer-observer.bt: `%rh` hashes), and running a
 * stand-in bpftrace binary.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseEvent } from '../../../src/events/schema.js';
import type { EventType, ObserverEvent } from '../../../src/events/types.js';
import { EventSink } from '../../../src/events/sink.js';
import { parseTraceLine, UsdtInterpreter } from '../../../src/sources/usdt/interpret.js';
import { BPFTRACE_SCRIPT, startUsdtSource } from '../../../src/sources/usdt/source.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/bitcoind/usdt/usdt-events.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'peer-observer-usdt-'));

function ofType<T extends EventType>(events: ObserverEvent[], type: T): Extract<ObserverEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ObserverEvent, { type: T }> => e.type === type);
}

function interpret(lines: string[]): { events: ObserverEvent[]; interpreter: UsdtInterpreter } {
  const events: ObserverEvent[] = [];
  const interpreter = new UsdtInterpreter(
    new EventSink('core-a', 'usdt', (e) => events.push(parseEvent(JSON.parse(JSON.stringify(e))))),
    'regtest',
  );
  for (const l of lines) interpreter.line(l);
  return { events, interpreter };
}

describe('usdt: the recorded tracepoints', () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);

  it('every line maps to exactly one event of the right type', () => {
    const { events, interpreter } = interpret(lines);
    assert.equal(lines.length, 259);
    assert.equal(events.length, lines.length);
    assert.equal(interpreter.counters.malformed, 0);
    // Peer 13 (node b) was connected before the trace began: its messages still map, direction from conn_type.
    assert.equal(interpreter.counters.unknownPeer, 1);
    assert.ok(
      ofType(events, 'message')
        .filter((e) => e.data.conn.id === 13)
        .every((e) => e.data.conn.direction === 'inbound'),
    );
    const typeOf: Record<string, EventType> = {
      'net:inbound_message': 'message',
      'net:outbound_message': 'message',
      'net:inbound_connection': 'connection.opened',
      'net:closed_connection': 'connection.closed',
      'mempool:added': 'mempool.tx',
      'mempool:removed': 'mempool.tx',
      'validation:block_connected': 'block.connected',
    };
    lines.forEach((l, i) => {
      const tp = (JSON.parse(l) as { tracepoint: string }).tracepoint;
      assert.equal(events[i]!.type, typeOf[tp], `line ${i + 1}: ${tp}`);
      assert.equal(events[i]!.source, 'usdt');
    });
  });

  it('the events say what the tracepoints said', () => {
    const { events } = interpret(lines);
    const opened = ofType(events, 'connection.opened');
    assert.deepEqual(
      opened.map((e) => [e.data.conn.id, e.data.conn.direction, e.data.conn.remote, e.data.connType]),
      [
        [14, 'inbound', '127.0.0.1:45786', 'inbound'],
        [15, 'inbound', '127.0.0.7:55719', 'inbound'],
      ],
    );
    const closed14 = ofType(events, 'connection.closed').find((e) => e.data.conn.id === 14)!.data;
    const msgs14 = ofType(events, 'message').filter((e) => e.data.conn.id === 14);
    assert.equal(closed14.messagesIn + closed14.messagesOut, msgs14.length);
    assert.equal(closed14.handshakeComplete, true);
    assert.equal(closed14.reason, 'unknown');
    const addr = ofType(events, 'message').filter((e) => e.data.command === 'addr' && e.data.dir === 'in');
    assert.ok(addr.length > 0 && addr.every((e) => e.data.payload === null && e.data.known));

    const block = ofType(events, 'block.connected')[0]!.data;
    // Internal byte order in the trace, display order in the event.
    const internal = '387d2502bb088abcff3f1ca99962f5c9f9d0ce73d7c6cc8e4585a3b7d7846a51';
    assert.equal(block.hash, Buffer.from(internal, 'hex').reverse().toString('hex'));
    assert.ok(block.hash.startsWith('516a84d7'));
    assert.deepEqual([block.height, block.transactions, block.inputs, block.sigops, block.durationMs], [112, 2, 2, 0, 0.023697]);
    const [added, removed] = ofType(events, 'mempool.tx');
    assert.equal(added!.data.action, 'accepted');
    assert.equal(
      added!.data.txid,
      Buffer.from('839f9b14ded0a15967c5ec2a5de3afc4d6f033bc331f3405918056b4e14deaf7', 'hex').reverse().toString('hex'),
    );
    assert.equal(added!.data.feeSat, '20000');
    assert.equal(removed!.data.action, 'removed');
    assert.equal(removed!.data.reason, 'block');
  });
});

describe('usdt: our script’s own format and hostile lines', () => {
  it('the shipped script prints every tracepoint the parser reads', () => {
    const script = readFileSync(BPFTRACE_SCRIPT, 'utf8');
    for (const tp of [
      'net:inbound_message',
      'net:outbound_message',
      'net:inbound_connection',
      'net:outbound_connection',
      'net:closed_connection',
      'net:evicted_inbound_connection',
      'net:misbehaving_connection',
      'mempool:added',
      'mempool:removed',
      'mempool:replaced',
      'mempool:rejected',
      'validation:block_connected',
    ])
      assert.ok(script.includes(`usdt:$1:${tp} {`) && script.includes(`\\"tracepoint\\":\\"${tp}\\"`), tp);
  });

  it('%rh (spaced hex) and %rx (\\x escapes) hashes; evicted, misbehaving, replaced, rejected', () => {
    const h = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0'));
    const spaced = h.join(' ');
    const escaped = h.map((b) => `\\\\x${b}`).join('');
    const display = [...h].reverse().join('');
    const { events, interpreter } = interpret([
      'Attaching 12 probes...',
      '{"tracepoint":"net:outbound_connection","peer_id":7,"addr":"[2a01:4f8::1]:8333","conn_type":"block-relay-only","network":2,"existing":9}',
      `{"tracepoint":"mempool:replaced","replaced_txid":"${spaced}","replaced_vsize":100,"replaced_fee":1000,"replacement_txid":"${escaped}","replacement_vsize":100,"replacement_fee":5000}`,
      `{"tracepoint":"mempool:rejected","txid":"${spaced}","reason":"min relay fee not met"}`,
      '{"tracepoint":"net:misbehaving_connection","peer_id":7,"message":"header with invalid proof of work"}',
      '{"tracepoint":"net:evicted_inbound_connection","peer_id":8,"addr":"1.2.3.4:5","conn_type":"inbound","network":1,"established":1795463944}',
      'Lost 17 events',
      '{"tracepoint":"net:inbound_message","peer_id":7,"addr":"x","conn_type":"y","msg_type":"waytoolongcommand","size":1}',
      '{"tracepoint":"net:inbound_message","peer_id":-1}',
      '{"tracepoint":"mempool:added","txid":"zz","vsize":1,"fee":1}',
      '{"tracepoint":"nope"}',
      '{not json',
    ]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['connection.opened', 'mempool.tx', 'mempool.tx', 'violation', 'connection.closed'],
    );
    const opened = ofType(events, 'connection.opened')[0]!.data;
    assert.deepEqual(opened.conn, { id: 7, direction: 'outbound', remote: '[2a01:4f8::1]:8333' });
    assert.equal(opened.netgroup, '2a01:4f8::/32');
    const [replaced, rejected] = ofType(events, 'mempool.tx');
    assert.equal(replaced!.data.txid, display);
    assert.equal(replaced!.data.replacedBy, display);
    assert.equal(rejected!.data.reason, 'min relay fee not met');
    const v = ofType(events, 'violation')[0]!.data;
    assert.deepEqual([v.conn.id, v.conn.direction, v.kind, v.detail], [7, 'outbound', 'misbehaving', 'header with invalid proof of work']);
    const ev = ofType(events, 'connection.closed')[0]!.data;
    assert.equal(ev.reason, 'evicted');
    assert.equal(interpreter.counters.unknownPeer, 1);
    assert.equal(interpreter.counters.lost, 17);
    assert.equal(interpreter.counters.other, 1);
    assert.equal(interpreter.counters.malformed, 5);
  });

  it('parseTraceLine never throws on garbage', () => {
    for (const l of ['', '{', '{"tracepoint":1}', '[]', 'null', '{"__proto__":{"x":1}}', '\u0000'.repeat(100)]) parseTraceLine(l);
  });
});

describe('usdt source', () => {
  it('reads the script output from a file (--usdt-input)', async () => {
    const events: ObserverEvent[] = [];
    const source = startUsdtSource({
      nodeId: 'n',
      network: 'regtest',
      publish: (e) => events.push(e),
      input: FIXTURE,
      once: true,
      countersEveryMs: 0,
    });
    await source.done;
    const counters = ofType(events, 'pipeline.counters').at(-1)!.data;
    assert.equal(counters.stage, 'usdt');
    assert.equal(counters.counters['events'], 259);
  });

  it('runs bpftrace with the shipped script on the pid, and reports how it ended', async () => {
    // A stand-in for bpftrace: records its arguments and prints recorded lines.
    const fake = join(dir, 'fake-bpftrace');
    const argsFile = join(dir, 'args');
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$@" > ${argsFile}\necho "$BPFTRACE_STRLEN" >> ${argsFile}\ncp "$6" ${argsFile}.bt\nhead -n 3 ${FIXTURE}\necho "Lost 2 events" >&2\necho "ERROR: something" >&2\n`,
    );
    chmodSync(fake, 0o755);
    const events: ObserverEvent[] = [];
    const status: string[] = [];
    const source = startUsdtSource({
      nodeId: 'n',
      network: 'regtest',
      publish: (e) => events.push(e),
      bitcoindPid: 4242,
      bpftrace: fake,
      countersEveryMs: 0,
      onStatus: (l) => status.push(l),
    });
    await source.done;
    // The shipped script (a copy: the source may swap its mempool:replaced probe), BPFTRACE_STRLEN=128 for its strings.
    const [args, strlen] = readFileSync(argsFile, 'utf8').trim().split('\n');
    assert.match(args!, /^-q -B line -p 4242 \S+\/peer-observer\.bt \/proc\/4242\/exe$/);
    assert.equal(strlen, '128');
    // No /proc/4242/exe to read the USDT notes from: the shipped script as it is, and the status says so.
    assert.equal(readFileSync(`${argsFile}.bt`, 'utf8'), readFileSync(BPFTRACE_SCRIPT, 'utf8'));
    assert.ok(status.some((l) => /mempool:replaced without the replacement fee: cannot read/.test(l)));
    assert.deepEqual(
      events.map((e) => e.type),
      ['connection.opened', 'message', 'message', 'pipeline.counters'],
    );
    const c = ofType(events, 'pipeline.counters')[0]!.data.counters;
    assert.equal(c['lost'], 2);
    assert.ok(status.some((l) => l === 'usdt: bpftrace: ERROR: something'));
    assert.ok(status.some((l) => /bpftrace exited \(code 0\): it needs root or CAP_BPF/.test(l)));
  });

  it('a bpftrace that ignores SIGINT is killed: stop() always ends', async () => {
    const stubborn = join(dir, 'stubborn-bpftrace');
    writeFileSync(stubborn, `#!/bin/sh\ntrap '' INT\nexec sleep 60\n`);
    chmodSync(stubborn, 0o755);
    const status: string[] = [];
    const source = startUsdtSource({
      nodeId: 'n',
      network: 'regtest',
      publish: () => {},
      bitcoindPid: 4242,
      bpftrace: stubborn,
      countersEveryMs: 0,
      onStatus: (l) => status.push(l),
    });
    await new Promise((r) => setTimeout(r, 300));
    await source.stop();
    assert.ok(status.some((l) => /did not stop within 5 s of SIGINT: killed/.test(l)));
  });

  it('a missing bpftrace is a clear error', async () => {
    const source = startUsdtSource({
      nodeId: 'n',
      network: 'regtest',
      publish: () => {},
      bitcoindPid: 1,
      bpftrace: join(dir, 'nope'),
      countersEveryMs: 0,
    });
    await assert.rejects(source.done, /cannot run .*nope: not installed .*--usdt-input/);
  });
});
