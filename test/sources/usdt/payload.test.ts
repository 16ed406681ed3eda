/**
 * The usdt source's message payloads (deploy/bpftrace/peer-observer.bt prints a
 * message line, then its first 32768 bytes as 128-byte `payload` lines), the
 * binary's USDT notes and the bpftrace expressions for arguments past arg5.
 * The bytes are our codec's encodings; the real-node tests run the same path
 * against Bitcoin Core (test/real-node/core-sources.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseEvent } from '../../../src/events/schema.js';
import type { ObserverEvent } from '../../../src/events/types.js';
import { encodePayload, msg } from '../../../src/protocol/messages/index.js';
import { versionMessage } from '../../../src/simulate/kit.js';
import { EventSink } from '../../../src/events/sink.js';
import { UsdtInterpreter } from '../../../src/sources/usdt/interpret.js';
import { bpftraceArg, parseUsdtNotes, readUsdtNotes } from '../../../src/sources/usdt/notes.js';
import { decodeCaptured, PayloadAssembler, USDT_PAYLOAD_MAX, type PendingMessage } from '../../../src/sources/usdt/payload.js';
import { bpftraceEnv, buildScript, BPFTRACE_SCRIPT } from '../../../src/sources/usdt/script.js';
import { readFileSync } from 'node:fs';

/** The lines the script prints for one message (128-byte chunks, `%rh` spelling). */
function traceLines(dir: 'in' | 'out', peer: number, command: string, payload: Uint8Array, chunk = 128): string[] {
  const n = Math.min(payload.length, USDT_PAYLOAD_MAX);
  const tp = dir === 'in' ? 'net:inbound_message' : 'net:outbound_message';
  const out = [
    JSON.stringify({ tracepoint: tp, peer_id: peer, addr: '127.0.0.9:5000', msg_type: command, size: payload.length, payload_bytes: n }),
  ];
  for (let i = 0; i < n; i += 128) {
    const hex = [...payload.subarray(i, i + chunk)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    out.push(JSON.stringify({ tracepoint: 'payload', dir, peer_id: peer, offset: i, hex }));
  }
  return out;
}

function addrPayload(n: number): Uint8Array {
  const entries = Array.from({ length: n }, (_, i) => ({
    time: 1_700_000_000 + i,
    services: 1033n,
    ip: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11, (i >> 8) & 255, i & 255, 1]),
    port: 8333,
  }));
  return encodePayload(msg('addr', { entries }));
}

function interpret(lines: string[]): { events: ObserverEvent[]; it: UsdtInterpreter } {
  const events: ObserverEvent[] = [];
  const it = new UsdtInterpreter(new EventSink('core', 'usdt', (e) => events.push(parseEvent(JSON.parse(JSON.stringify(e))))), 'regtest');
  for (const l of lines) it.line(l);
  it.end();
  return { events, it };
}

describe('usdt payloads', () => {
  it('a version and a ping are decoded by our codec; the version is also a handshake.version', () => {
    const version = encodePayload(versionMessage({ userAgent: '/spy:1.0/', nonce: 0n, startHeight: 7 }));
    const ping = encodePayload(msg('ping', { nonce: 0x1234n }));
    const { events, it } = interpret([...traceLines('in', 3, 'version', version), ...traceLines('in', 3, 'ping', ping)]);
    const messages = events.flatMap((e) => (e.type === 'message' ? [e.data] : []));
    assert.deepEqual(
      messages.map((m) => m.command),
      ['version', 'ping'],
    );
    assert.equal((messages[0]!.payload as Record<string, unknown>)['userAgent'], '/spy:1.0/');
    assert.deepEqual(messages[1]!.payload, { nonce: String(0x1234) });
    const v = events.find((e) => e.type === 'handshake.version');
    assert.ok(v && v.type === 'handshake.version');
    assert.deepEqual([v.data.conn.id, v.data.nonce, v.data.userAgent, v.data.startHeight], [3, '0', '/spy:1.0/', 7]);
    assert.equal(it.snapshot()['payloadsComplete'], 2);
    assert.equal(it.counters.events, events.length);
  });

  it('a peer connected before the trace began: its `peer` line gives the direction, its message line the address', () => {
    const ping = encodePayload(msg('ping', { nonce: 1n }));
    const { events, it } = interpret([
      JSON.stringify({ tracepoint: 'peer', peer_id: 8, conn_type: 'outbound-full-relay' }),
      ...traceLines('in', 8, 'ping', ping),
      JSON.stringify({ tracepoint: 'peer', peer_id: 9, conn_type: 'inbound' }),
      ...traceLines('out', 9, 'ping', ping),
    ]);
    const conns = events.flatMap((e) => (e.type === 'message' ? [[e.data.conn.id, e.data.conn.direction, e.data.conn.remote]] : []));
    assert.deepEqual(conns, [
      [8, 'outbound', '127.0.0.9:5000'],
      [9, 'inbound', '127.0.0.9:5000'],
    ]);
    assert.equal(it.counters.unknownPeer, 2);
  });

  it("two peers' lines interleaved (two CPUs) are assembled apart", () => {
    const a = traceLines('in', 1, 'addr', addrPayload(20));
    const b = traceLines('in', 2, 'addr', addrPayload(30));
    const mixed: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) mixed.push(...(a[i] ? [a[i]!] : []), ...(b[i] ? [b[i]!] : []));
    const { events, it } = interpret(mixed);
    const counts = events.flatMap((e) => (e.type === 'message' ? [[e.data.conn.id, (e.data.payload as { count: number }).count]] : []));
    assert.deepEqual(counts, [
      [1, 20],
      [2, 30],
    ]);
    assert.equal(it.snapshot()['payloadsTruncated'], 0);
  });

  it('a lost payload line ends the capture there: the event says truncated, with the entries that fit', () => {
    const lines = traceLines('in', 4, 'addr', addrPayload(100));
    lines.splice(3, 1); // the third chunk (bytes 256..383) was lost
    const { events, it } = interpret(lines);
    const m = events.find((e) => e.type === 'message');
    assert.ok(m && m.type === 'message');
    const p = m.data.payload as Record<string, unknown>;
    assert.equal(p['truncated'], true);
    assert.equal(p['capturedBytes'], 256);
    assert.equal(p['size'], 3001);
    assert.equal(p['count'], 100);
    assert.equal(p['entriesCaptured'], Math.floor((256 - 1) / 30));
    assert.equal(it.snapshot()['payloadsTruncated'], 1);
    assert.ok(it.snapshot()['payloadStrayLines']! > 0);
  });

  it('bpftrace without BPFTRACE_STRLEN=128 prints 64-byte chunks: truncated at the first short one, never misassembled', () => {
    const lines = traceLines('in', 5, 'ping', encodePayload(msg('ping', { nonce: 1n })));
    const big = traceLines('in', 5, 'addr', addrPayload(10), 64);
    const { events } = interpret([...lines, ...big]);
    const addr = events.find((e) => e.type === 'message' && e.data.command === 'addr');
    assert.ok(addr && addr.type === 'message');
    assert.equal((addr.data.payload as Record<string, unknown>)['capturedBytes'], 64);
    assert.equal((addr.data.payload as Record<string, unknown>)['count'], 10);
  });

  it('a payload past the script cap (32768 bytes) is marked truncated; a complete undecodable one says why', () => {
    const bytes = new Uint8Array(40_000);
    const d = decodeCaptured('block', bytes.subarray(0, USDT_PAYLOAD_MAX), 40_000);
    assert.equal(d.captured, USDT_PAYLOAD_MAX);
    assert.deepEqual(d.payload, { truncated: true, capturedBytes: USDT_PAYLOAD_MAX, size: 40_000 });
    const bad = decodeCaptured('ping', Uint8Array.from([1, 2, 3]), 3);
    assert.ok(bad.error);
    // A 1000-entry addr (30003 bytes) fits whole.
    const full = decodeCaptured('addr', addrPayload(1000), 30_003);
    assert.equal((full.payload as { count: number }).count, 1000);
    assert.equal(full.captured, null);
  });

  it('a cut addr of more than 1000 entries keeps 1000 of them, so the event still passes the schema every consumer checks', () => {
    // A peer's 2000 entries (60,003 bytes; our encoder refuses to write them) cut at 32,768: 1,092 would fit, past Core's
    // MAX_ADDR_TO_SEND.
    const entry = addrPayload(1).subarray(1);
    const whole = new Uint8Array(3 + 2000 * entry.length);
    whole.set([0xfd, 2000 & 0xff, 2000 >> 8]);
    for (let i = 0; i < 2000; i++) whole.set(entry, 3 + i * entry.length);
    const d = decodeCaptured('addr', whole.subarray(0, USDT_PAYLOAD_MAX), whole.length);
    const p = d.payload as { count: number; entriesCaptured: number; truncated: boolean };
    assert.deepEqual([p.count, p.entriesCaptured, p.truncated], [2000, 1000, true]);
    const event = {
      v: 1,
      type: 'message',
      nodeId: 'n1',
      timeUs: 1,
      source: 'usdt',
      data: {
        conn: { id: 1, direction: 'inbound', remote: '127.0.0.1:1' },
        dir: 'in',
        command: 'addr',
        size: 60_003,
        known: true,
        payload: d.payload,
      },
    };
    assert.doesNotThrow(() => parseEvent(event));
  });

  it('assembly is bounded: past maxPending the oldest is emitted as truncated', () => {
    const done: PendingMessage[] = [];
    const a = new PayloadAssembler((m) => done.push(m), 2);
    for (let peer = 0; peer < 5; peer++) a.begin('in', peer, 'ping', 8, 8, null, 0);
    assert.equal(a.size, 2);
    assert.deepEqual(
      done.map((m) => [m.peerId, m.broken]),
      [
        [0, true],
        [1, true],
        [2, true],
      ],
    );
    a.sweep(5000);
    assert.equal(a.size, 0);
  });
});

describe('USDT notes and arguments past arg5', () => {
  it('SystemTap argument specs become bpftrace expressions', () => {
    assert.equal(bpftraceArg('-8@160(%rsp)'), '*(int64*)uptr(reg("sp") + 160)');
    assert.equal(bpftraceArg('-4@168(%rsp)'), '*(int32*)uptr(reg("sp") + 168)');
    assert.equal(bpftraceArg('8@-1056(%rbp)'), '*(uint64*)uptr(reg("bp") - 1056)');
    assert.equal(bpftraceArg('8@(%rbx)'), '*(uint64*)uptr(reg("bx"))');
    assert.equal(bpftraceArg('1@%cl'), '(uint8)reg("cx")');
    assert.equal(bpftraceArg('-4@%eax'), '(int32)reg("ax")');
    assert.equal(bpftraceArg('4@%r15d'), '(uint32)reg("r15")');
    assert.equal(bpftraceArg('8@$5'), '(uint64)5');
    for (const bad of ['8@foo(%rip)', '8@0(%rax,%rbx,8)', '3@%eax', '8@%xmm0', '', '8@16(%eax)']) assert.equal(bpftraceArg(bad), null, bad);
  });

  it('the script swaps in a mempool:replaced probe reading arg6/arg7 where the note says', () => {
    const notes = [
      {
        provider: 'mempool',
        name: 'replaced',
        args: ['8@%r13', '-4@%eax', '-8@40(%rbx)', '8@64(%rbx)', '8@%rdx', '-4@168(%rsp)', '-8@160(%rsp)', '1@%cl'],
      },
    ];
    const plan = buildScript(null, notes);
    assert.match(plan.text, /\*\(int64\*\)uptr\(reg\("sp"\) \+ 160\), \(uint8\)reg\("cx"\)\);/);
    assert.match(plan.text, /replacement_fee/);
    assert.equal(plan.text.match(/usdt:\$1:mempool:replaced/g)!.length, 1);
    // An untranslatable spec: the shipped script, and the reason.
    const odd = buildScript(null, [{ ...notes[0]!, args: [...notes[0]!.args.slice(0, 6), '-8@8(%rsp,%rax,8)', '1@%cl'] }]);
    assert.equal(odd.text, readFileSync(BPFTRACE_SCRIPT, 'utf8'));
    assert.match(odd.note, /form we do not read/);
  });

  it("bpftrace's environment: 128-byte strings, a 4 MiB ring per CPU unless the operator chose one", () => {
    assert.deepEqual(bpftraceEnv({}), { BPFTRACE_STRLEN: '128', BPFTRACE_PERF_RB_PAGES: '1024' });
    assert.deepEqual(bpftraceEnv({ BPFTRACE_PERF_RB_PAGES: '64', BPFTRACE_STRLEN: '64' }), {
      BPFTRACE_STRLEN: '128',
      BPFTRACE_PERF_RB_PAGES: '64',
    });
  });

  it('the notes of an ELF file are read from .note.stapsdt; anything else is refused', () => {
    assert.throws(() => parseUsdtNotes(Buffer.from('not an elf file at all, not at all, no, not one bit of it, sorry')), /not an ELF/);
  });

  const bitcoind = process.env.BITCOIND;
  it(
    'the real bitcoind: every net, mempool, validation and utxocache tracepoint',
    { skip: bitcoind && existsSync(bitcoind) ? undefined : 'set BITCOIND' },
    () => {
      const notes = readUsdtNotes(bitcoind!);
      const names = notes.map((n) => `${n.provider}:${n.name}`).sort();
      for (const tp of [
        'net:inbound_message',
        'net:outbound_message',
        'net:closed_connection',
        'mempool:replaced',
        'validation:block_connected',
        'utxocache:flush',
      ])
        assert.ok(names.includes(tp), tp);
      const replaced = notes.find((n) => n.name === 'replaced')!;
      assert.equal(replaced.args.length, 8);
      assert.ok(replaced.args.every((a) => bpftraceArg(a) !== null));
      // Every tracepoint the shipped script attaches exists in this Core, and every net/mempool/validation one is attached.
      const script = readFileSync(BPFTRACE_SCRIPT, 'utf8');
      const attached = [...new Set([...script.matchAll(/^usdt:\$1:(\w+):(\w+)/gm)].map((m) => `${m[1]}:${m[2]}`))].sort();
      assert.deepEqual(
        attached,
        names.filter((n) => !n.startsWith('utxocache:')),
      );
    },
  );
});
