/**
 * The pcap replay source: the real capture of the b ↔ a session gives exactly the
 * messages of the recorded byte streams; synthetic captures of the same streams
 * exercise every link type, byte order and timestamp resolution; hostile files
 * and broken TCP (reordering, duplicates, loss, mid-stream starts) are counted,
 * never crash and never lose what can be recovered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseEvent } from '../../src/events/schema.js';
import { summarizeMessage } from '../../src/events/summary.js';
import type { EventEnvelope, JsonValue, ObserverEvent } from '../../src/events/types.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { sha256d } from '../../src/protocol/hash.js';
import { decodeMessage } from '../../src/protocol/messages/index.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { LINKTYPE } from '../../src/sources/replay/packet.js';
import { PcapFormatError } from '../../src/sources/replay/pcap-file.js';
import { pcapEvents, type PcapReplayOptions, type PcapStats } from '../../src/sources/replay/pcap.js';
import { StreamReassembler } from '../../src/sources/replay/reassembly.js';
import { concat, ipPacket, linkFrame, pcapFile, pcapHeader, pcapRecord, session, type Endpoints, type Segment } from './builder.js';

const FIX = new URL('../fixtures/bitcoind/', import.meta.url);
const PCAP = new URL('pcap/regtest-v1.pcap', FIX).pathname;
const UP = new Uint8Array(readFileSync(new URL('p2p/v1/conn0.to-server.bin', FIX)));
const DOWN = new Uint8Array(readFileSync(new URL('p2p/v1/conn0.to-client.bin', FIX)));
const OPTS: PcapReplayOptions = { network: NETWORKS.regtest, nodeId: 'replay-test' };

const dir = mkdtempSync(join(tmpdir(), 'pcap-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `f${fileNo++}.pcap`);
  writeFileSync(p, bytes);
  return p;
}

interface Seen {
  dir: 'in' | 'out';
  command: string;
  size: number;
  payload: JsonValue;
}

/** What decoding a recorded stream directly gives: one entry per frame. */
function direct(bytes: Uint8Array, d: 'in' | 'out'): Seen[] {
  const decoder = new FrameDecoder({ network: NETWORKS.regtest, detectV2: d === 'in' });
  const out: Seen[] = [];
  for (const item of decoder.push(bytes)) {
    assert.equal(item.type, 'frame');
    if (item.type !== 'frame') continue;
    const m = decodeMessage(item.frame.command, item.frame.payload);
    out.push({ dir: d, command: m.command, size: item.frame.payload.length, payload: summarizeMessage(m) });
  }
  return out;
}
const EXPECT_IN = direct(UP, 'in');
const EXPECT_OUT = direct(DOWN, 'out');

async function collect(path: string, options: Partial<PcapReplayOptions> = {}) {
  const replay = pcapEvents(path, { ...OPTS, ...options });
  const events: ObserverEvent[] = [];
  for await (const e of replay) events.push(e);
  return { events, stats: replay.stats, problem: replay.problem };
}

function messages(events: ObserverEvent[], d: 'in' | 'out'): Seen[] {
  return events
    .filter((e): e is EventEnvelope<'message'> => e.type === 'message' && e.data.dir === d)
    .map((e) => ({ dir: e.data.dir, command: e.data.command, size: e.data.size, payload: e.data.payload }));
}

function ofType<T extends ObserverEvent['type']>(events: ObserverEvent[], type: T): EventEnvelope<T>[] {
  return events.filter((e) => e.type === type) as unknown as EventEnvelope<T>[];
}

function assertSameMessages(events: ObserverEvent[]): void {
  assert.deepEqual(messages(events, 'in'), EXPECT_IN);
  assert.deepEqual(messages(events, 'out'), EXPECT_OUT);
}

function assertValid(events: ObserverEvent[]): void {
  for (const e of events) parseEvent(JSON.parse(JSON.stringify(e)));
}

function noLoss(stats: PcapStats): void {
  assert.equal(stats.gaps, 0);
  assert.equal(stats.gapBytes, 0);
  assert.equal(stats.droppedBytes, 0);
  assert.equal(stats.resyncSkippedBytes, 0);
  assert.equal(stats.violations, 0);
  assert.equal(stats.serverViolations, 0);
}

describe('pcap replay: the fixture capture (tcpdump on loopback, Ethernet link type)', () => {
  it('yields exactly the messages of decoding p2p/v1/conn0 directly, with valid events', async () => {
    const { events, stats, problem } = await collect(PCAP);
    assert.equal(problem, undefined);
    assertSameMessages(events);
    assertValid(events);
    noLoss(stats);
    assert.equal(stats.flows, 1);
    assert.equal(stats.messages, EXPECT_IN.length + EXPECT_OUT.length);
    assert.equal(stats.events, events.length);

    // One connection, the listening side (a, port 18600) is us: b's messages are `in`.
    const [opened] = ofType(events, 'connection.opened');
    assert.equal(opened!.data.conn.direction, 'inbound');
    assert.equal(opened!.data.local, '127.0.0.1:18600');
    assert.match(opened!.data.conn.remote, /^127\.0\.0\.1:\d+$/);
    assert.equal(opened!.data.netgroup, 'local');
    const closed = ofType(events, 'connection.closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.data.reason, 'peer-closed');
    assert.equal(closed[0]!.data.bytesIn, UP.length);
    assert.equal(closed[0]!.data.bytesOut, DOWN.length);
    assert.equal(closed[0]!.data.messagesIn, EXPECT_IN.length);
    assert.equal(closed[0]!.data.messagesOut, EXPECT_OUT.length);
    assert.ok(closed[0]!.data.handshakeComplete);
    assert.equal(events[0]!.type, 'connection.opened');
    assert.equal(events.at(-2)!.type, 'connection.closed');
    assert.equal(events.at(-1)!.type, 'pipeline.counters');

    // Source, node and capture timestamps (the recording day, 2026-11-23), never decreasing here.
    for (const e of events) {
      assert.equal(e.source, 'replay');
      assert.equal(e.nodeId, 'replay-test');
    }
    assert.equal(new Date(events[0]!.timeUs / 1000).toISOString().slice(0, 10), '2026-11-23');
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.timeUs >= events[i - 1]!.timeUs);

    // The session events the live source derives: b's version, the handshake, a ping.
    const [version] = ofType(events, 'handshake.version');
    assert.equal(version!.data.userAgent, '/Satoshi:30.99.0/');
    assert.equal(version!.data.startHeight, 0);
    assert.ok(Math.abs(version!.data.timeOffsetSec) <= 1, 'version time against the capture clock');
    const [complete] = ofType(events, 'handshake.complete');
    assert.deepEqual([complete!.data.wtxidRelay, complete!.data.addrV2], [true, true]);
    assert.ok(ofType(events, 'ping.latency').length >= 1);
  });

  it('matches what Core logged for the connection (debug-a.log, peer 13)', async () => {
    const { events } = await collect(PCAP);
    const log = readFileSync(new URL('log/debug-a.log', FIX), 'utf8');
    const core = (re: RegExp) =>
      log
        .split('\n')
        .map((l) => re.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && m[3] === '13')
        .map((m) => `${m[1]}:${m[2]}`);
    const seq = (d: 'in' | 'out') => messages(events, d).map((m) => `${m.command}:${m.size}`);
    assert.deepEqual(seq('in'), core(/\breceived: (\S+) \((\d+) bytes\) peer=(\d+)$/));
    assert.deepEqual(seq('out'), core(/\bsending (\S+) \((\d+) bytes\) peer=(\d+)$/));
  });

  it('recordRaw: every message carries its payload bytes (base64)', async () => {
    const { events } = await collect(PCAP, { recordRaw: true });
    const raws = (d: 'in' | 'out') =>
      ofType(events, 'message')
        .filter((e) => e.data.dir === d)
        .map((e) => Buffer.from(e.data.raw!, 'base64'));
    // Headers are 24 bytes each: the payloads are the stream minus the headers, in order.
    const rebuilt = (d: 'in' | 'out', stream: Uint8Array) => {
      let at = 0;
      for (const raw of raws(d)) {
        at += 24;
        assert.deepEqual(raw, Buffer.from(stream.subarray(at, at + raw.length)));
        at += raw.length;
      }
      assert.equal(at, stream.length);
    };
    rebuilt('in', UP);
    rebuilt('out', DOWN);
    assertValid(events);
  });

  it('reads the same with tiny file reads (records split across reads)', async () => {
    const { events } = await collect(PCAP, { readChunkSize: 64 });
    assertSameMessages(events);
  });

  it('serverPort: orientation from the port; flows on other ports are ignored', async () => {
    const { events } = await collect(PCAP, { serverPort: 18600 });
    assertSameMessages(events);
    const other = await collect(PCAP, { serverPort: 8333 });
    assert.equal(other.stats.flows, 0);
    assert.equal(other.stats.ignoredSegments, other.stats.tcpSegments);
    assert.deepEqual(
      other.events.map((e) => e.type),
      ['pipeline.counters'],
    );
  });
});

describe('pcap replay: formats', () => {
  const linkTypes = [
    LINKTYPE.ethernet,
    LINKTYPE.linuxSll,
    LINKTYPE.linuxSll2,
    LINKTYPE.raw,
    LINKTYPE.rawOpenBsd,
    LINKTYPE.ipv4,
    LINKTYPE.null,
    LINKTYPE.loop,
  ];
  for (const linkType of linkTypes) {
    for (const littleEndian of [true, false]) {
      for (const nanoseconds of [false, true]) {
        it(`link type ${linkType}, ${littleEndian ? 'little' : 'big'}-endian, ${nanoseconds ? 'ns' : 'µs'}`, async () => {
          const segs = session(UP, DOWN, { mss: 1000 });
          const { events, stats } = await collect(file(pcapFile({ linkType, littleEndian, nanoseconds }, segs)));
          assertSameMessages(events);
          noLoss(stats);
          // Timestamps to the microsecond (nanoseconds truncated).
          assert.equal(events[0]!.timeUs, segs[0]!.timeUs);
        });
      }
    }
  }

  const v6: Endpoints = { client: { ip: '2a01:4f8:1:2::1', port: 50000 }, server: { ip: '2a02:c207::2', port: 18444 } };
  for (const linkType of [LINKTYPE.ethernet, LINKTYPE.raw, LINKTYPE.ipv6, LINKTYPE.linuxSll2, LINKTYPE.null]) {
    it(`IPv6 over link type ${linkType}`, async () => {
      const { events, stats } = await collect(file(pcapFile({ linkType }, session(UP, DOWN), v6)));
      assertSameMessages(events);
      noLoss(stats);
      const [opened] = ofType(events, 'connection.opened');
      assert.equal(opened!.data.conn.remote, '[2a01:4f8:1:2::1]:50000');
      assert.equal(opened!.data.local, '[2a02:c207::2]:18444');
      assert.equal(opened!.data.netgroup, '2a01:4f8::/32');
      assertValid(events);
    });
  }

  it('skips what is not TCP over IP, counted', async () => {
    const o = { linkType: LINKTYPE.ethernet };
    const arp = new Uint8Array(60);
    arp.set([0x08, 0x06], 12);
    const udp = ipPacket({ from: 'client', seq: 0, timeUs: 0 });
    udp[9] = 17;
    const frag = ipPacket({ from: 'client', seq: 0, timeUs: 0 });
    frag[6] = 0x20; // more fragments
    const bytes = concat([
      pcapHeader(o),
      pcapRecord(o, { timeUs: 1, data: arp }),
      pcapRecord(o, { timeUs: 2, data: linkFrame(o.linkType, udp) }),
      pcapRecord(o, { timeUs: 3, data: linkFrame(o.linkType, frag) }),
      pcapRecord(o, { timeUs: 4, data: new Uint8Array(20) }),
      pcapRecord(o, { timeUs: 5, data: new Uint8Array(0) }),
    ]);
    const { events, stats } = await collect(file(bytes));
    assert.deepEqual(
      [stats.records, stats.skippedNotIp, stats.skippedNotTcp, stats.skippedIpFragment, stats.skippedShort],
      [5, 2, 1, 1, 1],
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['pipeline.counters'],
    );
  });
});

describe('pcap replay: hostile files', () => {
  const o = { linkType: LINKTYPE.ethernet };
  const good = pcapFile(o, session(UP, DOWN, { mss: 1000 }));

  it('not a pcap, pcapng, a truncated global header, a garbage link type: PcapFormatError naming the problem', async () => {
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n......'), /not a pcap file/],
      [concat([new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a]), new Uint8Array(60)]), /pcapng is not supported/],
      [good.subarray(0, 10), /truncated pcap header/],
      [new Uint8Array(0), /too short/],
      [pcapFile({ linkType: 9999 }, session(UP, DOWN)), /link type 9999 not supported/],
      [pcapHeader({ linkType: 147 }), /link type 147 not supported/],
    ];
    for (const [bytes, message] of cases) {
      await assert.rejects(collect(file(bytes)), (e: unknown) => e instanceof PcapFormatError && message.test(e.message));
    }
  });

  it('a file cut inside a record header or body: what came before is replayed, the cut reported', async () => {
    // The last record is a pure ACK (16-byte header, 60-byte padded Ethernet frame).
    const cases = [
      [good.length - 76 + 5, 'truncated-header'],
      [good.length - 10, 'truncated-record'],
      [good.length - 1, 'truncated-record'],
    ] as const;
    for (const [cut, kind] of cases) {
      const { events, stats, problem } = await collect(file(good.subarray(0, cut)));
      assert.equal(problem?.kind, kind, `cut at ${cut}`);
      assert.equal(problem!.offset, good.length - 76);
      assert.equal(stats.readProblems, 1);
      assertSameMessages(events); // the last records are FIN/ACK: no data lost
      assertValid(events);
    }
  });

  it('an absurd captured length stops the read without allocating it', async () => {
    const records = session(UP, DOWN, { mss: 1000 });
    const half = Math.floor(records.length / 2);
    const bytes = concat([
      pcapFile(o, records.slice(0, half)),
      pcapRecord(o, { timeUs: 1, data: new Uint8Array(8), inclLen: 0xffffffff, origLen: 0xffffffff }),
      new Uint8Array(1000),
    ]);
    const before = process.memoryUsage().arrayBuffers;
    const { events, stats, problem } = await collect(file(bytes));
    assert.equal(problem?.kind, 'record-too-long');
    assert.match(problem!.detail, /4294967295/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    assert.equal(stats.records, half);
    // The open flow is closed at the end of what could be read.
    const closed = ofType(events, 'connection.closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.data.reason, 'shutdown');
    assertValid(events);
  });

  it('a per-file maximum record length is applied', async () => {
    const { problem } = await collect(file(good), { limits: { maxRecordLength: 100 } });
    assert.equal(problem?.kind, 'record-too-long');
  });

  it('a snaplen-cut segment is a counted gap; decoding resumes at the next header', async () => {
    const segs = session(UP, DOWN, { mss: 500 });
    const parts: Uint8Array[] = [pcapHeader({ ...o, snaplen: 200 })];
    let cutIndex = -1;
    segs.forEach((s, i) => {
      const frame = linkFrame(o.linkType, ipPacket(s));
      // Cut one server data segment in the middle of the block download.
      if (cutIndex < 0 && s.from === 'server' && i > 40 && s.payload) {
        cutIndex = i;
        parts.push(pcapRecord(o, { timeUs: s.timeUs, data: frame.subarray(0, 200), origLen: frame.length }));
      } else parts.push(pcapRecord(o, { timeUs: s.timeUs, data: frame }));
    });
    const { events, stats } = await collect(file(concat(parts)));
    assert.equal(stats.snapCut, 1);
    assert.equal(stats.gaps, 1);
    assert.equal(stats.gapBytes, 500);
    assert.deepEqual(messages(events, 'in'), EXPECT_IN);
    const out = messages(events, 'out');
    assert.ok(out.length < EXPECT_OUT.length && out.length >= EXPECT_OUT.length - 3, 'at most the frames around the hole are lost');
    assertSubsequence(out, EXPECT_OUT);
    assert.equal(stats.serverViolations, 0, 'the resync lands on a real header');
    assertValid(events);
  });

  it('out-of-order and duplicated segments of the real stream: the same messages, counted', async () => {
    const segs = session(UP, DOWN, { mss: 300 });
    const rnd = mulberry32(7);
    const shuffled = shuffleWithin(segs, 6, rnd);
    // Duplicate every fifth segment, some right away, some later (retransmissions).
    const withDups: Segment[] = [];
    shuffled.forEach((s, i) => {
      withDups.push(s);
      if (i % 5 === 0 && s.payload) withDups.splice(Math.max(0, withDups.length - 1 - Math.floor(rnd() * 4)), 0, { ...s });
    });
    const { events, stats } = await collect(file(pcapFile(o, withDups)));
    assertSameMessages(events);
    noLoss(stats);
    assert.ok(stats.outOfOrder > 0);
    assert.ok(stats.duplicateBytes > 0);
    assertValid(events);
  });

  it('a lost segment with a small reorder window: a counted gap, then decoding resumes', async () => {
    const segs = session(UP, DOWN, { mss: 400 });
    const dropAt = segs.findIndex((s, i) => i > 60 && s.from === 'server' && s.payload);
    const { events, stats } = await collect(
      file(
        pcapFile(
          o,
          segs.filter((_, i) => i !== dropAt),
        ),
      ),
      {
        limits: { maxReorderBytes: 4000 },
      },
    );
    assert.equal(stats.gaps, 1);
    assert.equal(stats.gapBytes, 400);
    assert.deepEqual(messages(events, 'in'), EXPECT_IN);
    assertSubsequence(messages(events, 'out'), EXPECT_OUT);
    assert.ok(messages(events, 'out').length >= EXPECT_OUT.length - 3);
  });

  it('a capture that starts mid-stream: the first whole frame on each side onwards', async () => {
    const segs = session(UP, DOWN, { mss: 333, handshake: true }).slice(3 + 9); // no handshake, a few segments in
    const { events, stats } = await collect(file(pcapFile(o, segs)));
    assert.ok(stats.resyncSkippedBytes > 0);
    assert.equal(stats.violations + stats.serverViolations, 0);
    const [opened] = ofType(events, 'connection.opened');
    // No SYN: the lower port (18444, the network's) is the server.
    assert.equal(opened!.data.local, '127.0.0.1:18444');
    for (const [d, expected] of [
      ['in', EXPECT_IN],
      ['out', EXPECT_OUT],
    ] as const) {
      const got = messages(events, d);
      assert.ok(got.length > 0 && got.length < expected.length);
      assert.deepEqual(got, expected.slice(expected.length - got.length), `${d}: a suffix of the stream`);
    }
    assertValid(events);
  });

  it('sequence numbers that wrap around 2^32', async () => {
    const segs = session(UP, DOWN, { clientIsn: 0xffffffff - 3000, serverIsn: 0xffffffff - 20000 });
    const { events, stats } = await collect(file(pcapFile(o, segs)));
    assertSameMessages(events);
    noLoss(stats);
  });

  it('a v2 flow (Core recording) is recognised, counted, never decoded as v1', async () => {
    const v2up = new Uint8Array(readFileSync(new URL('p2p/v2/conn0.to-server.bin', FIX)));
    const v2down = new Uint8Array(readFileSync(new URL('p2p/v2/conn0.to-client.bin', FIX)));
    const v2 = await collect(file(pcapFile(o, session(v2up, v2down))));
    assert.deepEqual(ofType(v2.events, 'violation'), [], 'v2 is not a violation');
    assert.deepEqual(ofType(v2.events, 'message'), [], 'no garbage decoded as v1');
    assert.equal(ofType(v2.events, 'connection.opened')[0]!.data.transport, 'v2');
    const closed = ofType(v2.events, 'connection.closed')[0]!.data;
    assert.deepEqual([closed.transport, closed.bytesIn, closed.bytesOut, closed.messagesIn], ['v2', v2up.length, v2down.length, 0]);
    assert.equal(closed.reason, 'peer-closed');
    assert.equal(v2.stats.v2Flows, 1);
    assert.equal(v2.stats.v2Bytes, v2up.length + v2down.length);
    assert.equal(v2.stats.serverViolations, 0);
    assert.equal(v2.stats.bytesAfterFatal, 0);
    assertValid(v2.events);
  });

  it('violations of the client become violation events: the malformed attack', async () => {
    const mUp = new Uint8Array(readFileSync(new URL('p2p/v1-attacks/malformed.to-server.bin', FIX)));
    const mDown = new Uint8Array(readFileSync(new URL('p2p/v1-attacks/malformed.to-client.bin', FIX)));
    const m = await collect(file(pcapFile(o, session(mUp, mDown))), { recordRaw: true });
    assert.deepEqual(
      ofType(m.events, 'violation').map((e) => [e.data.kind, e.data.action, e.data.command, e.data.size]),
      [
        ['bad-checksum', 'drop-message', 'ping', 8],
        ['oversize', 'disconnect', 'addr', 2_147_483_647],
      ],
    );
    const foobar = ofType(m.events, 'message').find((e) => e.data.command === 'foobar');
    assert.equal(foobar?.data.known, false);
    assertValid(m.events);

    // A payload that does not decode: malformed-payload, with the raw bytes. (A version
    // message: a stream whose first 16 bytes are not magic + "version" is v2, as in Core.)
    const bad = new Uint8Array(24 + 3);
    bad.set([0xfa, 0xbf, 0xb5, 0xda]);
    bad.set(new TextEncoder().encode('version'), 4);
    bad[16] = 3;
    bad.set(sha256d(new Uint8Array(3)).subarray(0, 4), 20);
    const p = await collect(file(pcapFile(o, session(bad, new Uint8Array(0)))), { recordRaw: true });
    const [mal] = ofType(p.events, 'violation');
    assert.equal(mal!.data.kind, 'malformed-payload');
    assert.equal(mal!.data.raw, 'AAAA');
    assertValid(p.events);
  });

  it('bounded: the flow limit closes the least recently active flow, counted', async () => {
    const segs: Uint8Array[] = [pcapHeader(o)];
    for (let i = 0; i < 5; i++) {
      const ends: Endpoints = { client: { ip: `10.0.${i}.1`, port: 40000 + i }, server: { ip: '10.9.9.9', port: 18444 } };
      for (const s of session(UP.subarray(0, 200), DOWN.subarray(0, 200), { fin: false, startUs: 1e15 + i * 100 })) {
        segs.push(pcapRecord(o, { timeUs: s.timeUs, data: linkFrame(o.linkType, ipPacket(s, ends)) }));
      }
    }
    const { events, stats } = await collect(file(concat(segs)), { limits: { maxFlows: 2 } });
    assert.equal(stats.flows, 5);
    assert.equal(stats.flowsEvicted, 3);
    const reasons = ofType(events, 'connection.closed').map((e) => e.data.reason);
    assert.deepEqual(reasons, ['limit', 'limit', 'limit', 'shutdown', 'shutdown']);
    assert.deepEqual(
      ofType(events, 'connection.opened').map((e) => e.data.conn.id),
      [1, 2, 3, 4, 5],
    );
    assertValid(events);
  });

  it('bounded: the buffered-bytes limit closes flows, counted', async () => {
    // A hole at the start of the server's data: everything after it waits in the reorder buffer.
    const segs = session(UP, DOWN, { mss: 1000 });
    const hole = segs.findIndex((s) => s.from === 'server' && s.payload);
    const { events, stats } = await collect(
      file(
        pcapFile(
          o,
          segs.filter((_, i) => i !== hole),
        ),
      ),
      {
        limits: { maxBufferedBytes: 10_000 },
      },
    );
    assert.equal(stats.flowsEvicted, 1);
    assert.ok(stats.maxBuffered <= 10_000 + 1000);
    assert.equal(ofType(events, 'connection.closed')[0]!.data.reason, 'limit');
    assertValid(events);
  });
});

describe('TCP reassembly (fast-check)', () => {
  /** Deliver `segments` (offset, length) of `stream` in the given order; returns the stream rebuilt. */
  function reassemble(stream: Uint8Array, isn: number, order: [number, number][], reasm: StreamReassembler, syn: boolean) {
    const rebuilt = new Uint8Array(stream.length);
    const known = new Uint8Array(stream.length);
    let at = 0;
    const take = (chunks: ReturnType<StreamReassembler['segment']>) => {
      for (const c of chunks) {
        if (c.type === 'gap') at += c.length;
        else {
          rebuilt.set(c.bytes, at);
          known.fill(1, at, at + c.bytes.length);
          at += c.bytes.length;
        }
      }
    };
    if (syn) reasm.syn(isn);
    for (const [off, len] of order) take(reasm.segment((isn + 1 + off) % 2 ** 32, len, stream.subarray(off, off + len)));
    take(reasm.flush());
    return { rebuilt, known, at };
  }

  const scenario = fc
    .record({
      stream: fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      isn: fc.oneof(fc.nat({ max: 2 ** 32 - 1 }), fc.constantFrom(2 ** 32 - 1, 2 ** 32 - 2, 2 ** 32 - 500)),
      cuts: fc.array(fc.nat({ max: 3000 }), { maxLength: 60 }),
      window: fc.integer({ min: 0, max: 8 }),
      seed: fc.integer(),
      dups: fc.array(fc.nat(), { maxLength: 10 }),
    })
    .map(({ stream, isn, cuts, window, seed, dups }) => {
      const points = [...new Set([0, ...cuts.map((c) => c % stream.length), stream.length])].sort((a, b) => a - b);
      const segs: [number, number][] = [];
      for (let i = 0; i + 1 < points.length; i++) segs.push([points[i]!, points[i + 1]! - points[i]!]);
      const order = shuffleWithin(segs, window, mulberry32(seed));
      for (const d of dups) order.splice(d % (order.length + 1), 0, segs[d % segs.length]!);
      return { stream, isn, order };
    });

  it('any segmentation, reordering within the window and duplication reassembles to the original', () => {
    fc.assert(
      fc.property(scenario, ({ stream, isn, order }) => {
        const reasm = new StreamReassembler({ maxReorderBytes: 1 << 20, maxReorderSegments: 1024 });
        const { rebuilt, at } = reassemble(stream, isn, order, reasm, true);
        assert.equal(at, stream.length);
        assert.deepEqual(rebuilt, stream);
        assert.equal(reasm.counters.gaps, 0);
        assert.equal(reasm.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('with a tiny reorder buffer every byte delivered is right and at its place, and buffering stays bounded', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 200 }), ({ stream, isn, order }, limit) => {
        const reasm = new StreamReassembler({ maxReorderBytes: limit, maxReorderSegments: 4 });
        const { rebuilt, known, at } = reassemble(stream, isn, order, reasm, true);
        assert.ok(at <= stream.length);
        for (let i = 0; i < at; i++) if (known[i]) assert.equal(rebuilt[i], stream[i]);
        assert.ok(reasm.pendingSegments <= 4);
        assert.equal(reasm.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });
});

/** Each element moves at most `window` places from where it was. */
function shuffleWithin<T>(items: T[], window: number, rnd: () => number): T[] {
  const keyed = items.map((item, i) => ({ item, key: i + rnd() * (window + 1) }));
  return keyed.sort((a, b) => a.key - b.key).map((k) => k.item);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `got` is `expected` with some entries left out, in order. */
function assertSubsequence<T>(got: T[], expected: T[]): void {
  let j = 0;
  for (const g of got) {
    while (j < expected.length && JSON.stringify(expected[j]) !== JSON.stringify(g)) j++;
    assert.ok(j < expected.length, 'in order, each one from the stream');
    j++;
  }
}
