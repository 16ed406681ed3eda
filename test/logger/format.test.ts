import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bare, escapeText, quote, safeJson } from '../../src/consumers/logger/escape.js';
import {
  formatDuration,
  formatJson,
  formatText,
  formatTime,
  summarizeMessage,
  summarizePayload,
} from '../../src/consumers/logger/format.js';
import { makeEvent, type ObserverEvent } from '../../src/events/index.js';

const origin = { nodeId: 'node1', source: 'p2p' };
const T = 1_717_243_200_123_456; // 2024-06-01T12:00:00.123456Z
const conn = { id: 7, direction: 'inbound' as const, remote: '127.0.0.2:50412' };

/** Nothing a terminal acts on: no C0/C1 controls, no DEL, no bidi/format characters. */
function assertTerminalSafe(line: string): void {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u, JSON.stringify(line));
}

describe('escape', () => {
  it('escapes controls, ANSI, C1, bidi and lone surrogates', () => {
    assert.equal(escapeText('a\x1b[2Jb'), 'a\\x1b[2Jb');
    assert.equal(escapeText('x\ny\rz\t'), 'x\\ny\\rz\\t');
    assert.equal(escapeText('\x7f\x9b'), '\\x7f\\x9b');
    assert.equal(escapeText('abc\u202edef'), 'abc\\u{202e}def');
    assert.equal(escapeText('\ud800x'), '\\u{d800}x');
    assert.equal(escapeText('/Satoshi:27.0.0/ ünïcödé 🙂'), '/Satoshi:27.0.0/ ünïcödé 🙂');
  });

  it('quotes unambiguously', () => {
    assert.equal(quote('a "b" \\c'), '"a \\"b\\" \\\\c"');
    assert.equal(bare('inv'), 'inv');
    assert.equal(bare('has space'), '"has space"');
    assert.equal(bare(''), '""');
  });

  it('safeJson is the same value, escaped for terminals', () => {
    const v = { ua: '\x1b]0;pwned\x07\x9b31m\u202e\u{e0041}', n: 1 };
    const s = safeJson(v);
    assertTerminalSafe(s);
    assert.deepEqual(JSON.parse(s), v);
  });
});

describe('format helpers', () => {
  it('formats time with microseconds', () => {
    assert.equal(formatTime(T), '2024-06-01T12:00:00.123456Z');
    assert.equal(formatTime(1_000_000), '1970-01-01T00:00:01.000000Z');
  });

  it('formats durations', () => {
    assert.equal(formatDuration(0.5), '500us');
    assert.equal(formatDuration(1.2345), '1.234ms');
    assert.equal(formatDuration(12_345), '12.345s');
    assert.equal(formatDuration(3_723_000), '1h02m03s');
  });

  it('summarizes payloads on one bounded line', () => {
    assert.equal(summarizePayload(null), '');
    assert.equal(summarizePayload({ nonce: '1234' }), 'nonce=1234');
    const inv = {
      count: 3,
      items: [
        { type: 'wtx', hash: 'ab'.repeat(32) },
        { type: 'tx', hash: 'cd'.repeat(32) },
      ],
    };
    assert.equal(summarizePayload(inv), `count=3 items=[2] {type=wtx hash=${'ab'.repeat(8)}…} {type=tx hash=${'cd'.repeat(8)}…}`);
    const big = { entries: Array.from({ length: 1000 }, (_, i) => ({ addr: `10.0.${i >> 8}.${i & 255}:8333`, time: i })) };
    const s = summarizePayload(big);
    assert.ok(s.startsWith('entries=[1000] {addr=10.0.0.0:8333 time=0}'), s);
    assert.ok(s.length <= 240);
    assertTerminalSafe(summarizePayload({ reason: 'bad\x1b[31m\nline' }));
  });
});

describe('formatText', () => {
  const cases: [ObserverEvent, string][] = [
    [
      makeEvent(origin, 'message', { conn, dir: 'in', command: 'ping', size: 8, known: true, payload: { nonce: '42' } }, T),
      '<-- 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 ping 8B nonce=42',
    ],
    [
      makeEvent(origin, 'message', { conn, dir: 'out', command: 'verack', size: 0, known: true, payload: null }, T),
      '--> 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 verack 0B',
    ],
    [
      makeEvent(origin, 'connection.opened', { conn, local: '127.0.0.1:18444', network: 'regtest', netgroup: '127.0', transport: 'v1' }, T),
      '# CONN 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 opened inbound netgroup=127.0 local=127.0.0.1:18444 network=regtest transport=v1',
    ],
    [
      makeEvent(
        origin,
        'connection.closed',
        {
          conn,
          network: 'regtest',
          netgroup: '127.0',
          reason: 'peer-closed',
          detail: '',
          durationMs: 12_345,
          handshakeComplete: true,
          bytesIn: 1000,
          bytesOut: 900,
          messagesIn: 10,
          messagesOut: 9,
        },
        T,
      ),
      '# CONN 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 closed inbound netgroup=127.0 reason=peer-closed duration=12.345s handshake=yes in=10msg/1000B out=9msg/900B',
    ],
    [
      makeEvent(
        origin,
        'handshake.version',
        {
          conn,
          version: 70016,
          services: '1033',
          serviceNames: ['NETWORK', 'WITNESS', 'NETWORK_LIMITED'],
          userAgent: '/Satoshi:27.0.0/',
          startHeight: 850000,
          relay: true,
          nonce: '18446744073709551615',
          timeOffsetSec: -2,
          receiver: '127.0.0.1:18444',
          sender: null,
        },
        T,
      ),
      '# VERSION 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 version=70016 ua="/Satoshi:27.0.0/" services=1033(NETWORK|WITNESS|NETWORK_LIMITED) height=850000 relay=yes nonce=18446744073709551615 offset=-2s receiver=127.0.0.1:18444 sender=-',
    ],
    [
      makeEvent(origin, 'handshake.complete', { conn, elapsedMs: 3.5, wtxidRelay: true, addrV2: false }, T),
      '# HANDSHAKE 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 complete in 3.500ms wtxidrelay=yes addrv2=no',
    ],
    [
      makeEvent(origin, 'ping.latency', { conn, nonce: '99', latencyMs: 0.25 }, T),
      '# PING 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 latency=250us nonce=99',
    ],
    [
      makeEvent(
        origin,
        'violation',
        { conn, kind: 'bad-checksum', action: 'drop-message', detail: 'inv (37 bytes): expected 00 was 01', command: 'inv', size: 37 },
        T,
      ),
      '! VIOLATION bad-checksum 2024-06-01T12:00:00.123456Z node1 conn=7 127.0.0.2:50412 action=drop-message command=inv size=37 "inv (37 bytes): expected 00 was 01"',
    ],
    [
      makeEvent(origin, 'pipeline.counters', { stage: 'bus', counters: { published: 10, dropped: 0 } }, T),
      '# COUNTERS 2024-06-01T12:00:00.123456Z node1 stage=bus published=10 dropped=0',
    ],
  ];
  for (const [event, line] of cases) {
    it(`${event.type}${event.type === 'message' ? ` ${event.data.dir}` : ''}`, () => assert.equal(formatText(event), line));
  }

  it('prints a hostile user agent and unknown command safely', () => {
    const ua = '/evil\x1b[2J\x1b]0;owned\x07\r\n# CONN fake line\u202e/';
    const v = makeEvent(
      origin,
      'handshake.version',
      {
        conn,
        version: 70016,
        services: '0',
        serviceNames: [],
        userAgent: ua,
        startHeight: null,
        relay: false,
        nonce: '0',
        timeOffsetSec: 0,
        receiver: '127.0.0.1:18444',
        sender: '0.0.0.0:0',
      },
      T,
    );
    const line = formatText(v);
    assertTerminalSafe(line);
    assert.match(line, /ua="\/evil\\x1b\[2J\\x1b\]0;owned\\x07\\r\\n# CONN fake line\\u\{202e\}\/"/);
    const m = makeEvent(
      origin,
      'message',
      { conn, dir: 'in', command: 'x\x1by z', size: 3, known: false, payload: { length: 3, hex: 'aabbcc', truncated: false } },
      T,
    );
    const ml = formatText(m);
    assertTerminalSafe(ml);
    assert.match(ml, / "x\\x1by z"\(unknown\) 3B length=3 hex=aabbcc truncated=false$/);
  });

  it('prints events of a newer schema instead of failing', () => {
    const e = { v: 1, type: 'future.thing', nodeId: 'n', timeUs: T, source: 'p2p', data: { a: '\x1b' } } as unknown as ObserverEvent;
    const line = formatText(e);
    assertTerminalSafe(line);
    assert.match(line, /^# EVENT .* type="future.thing" \{"a":"\\u001b"\}$/);
  });
});

describe('formatJson', () => {
  it('is the envelope unchanged, on one line', () => {
    const e = makeEvent(
      origin,
      'message',
      { conn, dir: 'in', command: 'tx', size: 102, known: false, payload: { length: 2, hex: '0a9b', truncated: false } },
      T,
    );
    const line = formatJson(e);
    assert.ok(!line.includes('\n'));
    assertTerminalSafe(line);
    assert.deepEqual(JSON.parse(line), e);
  });
});

describe('summarizeMessage', () => {
  it('keeps the gist of version and addr lines', () => {
    assert.equal(
      summarizeMessage({
        command: 'version',
        known: true,
        payload: {
          version: 70016,
          services: '1033',
          serviceNames: ['NODE_NETWORK'],
          timestamp: '1',
          receiver: { addr: '127.0.0.1', port: 8333, services: '0' },
          sender: null,
          nonce: '1',
          userAgent: '/Satoshi:27.0.0/',
          startHeight: 5,
          relay: true,
        },
      }),
      'version=70016 userAgent=/Satoshi:27.0.0/ startHeight=5 services=1033 relay=true',
    );
    const entries = [
      { time: 1, services: '9', network: 'ipv4', addr: '1.2.3.4', port: 8333 },
      { time: 1, services: '9', network: 'ipv6', addr: '2001:db8::1', port: 8333 },
      { time: 1, services: '9', network: 'ipv4', addr: '5.6.7.8', port: 8333 },
      { time: 1, services: '9', network: 'ipv4', addr: '\x1b[31m', port: 1 },
    ];
    assert.equal(
      summarizeMessage({ command: 'addrv2', known: true, payload: { count: 4, entries } }),
      'count=4 1.2.3.4:8333 [2001:db8::1]:8333 5.6.7.8:8333 …',
    );
    assert.equal(
      summarizeMessage({ command: 'addrv2', known: true, payload: { count: 1, entries: entries.slice(3) } }),
      'count=1 "\\x1b[31m:1"',
    );
  });
});
