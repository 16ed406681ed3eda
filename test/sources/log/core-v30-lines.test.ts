/**
 * debug.log lines a real Bitcoin Core v30.99 (../shared/bitcoin-core) wrote
 * while the simulator's ping-spam and malformed scenarios talked to it
 * (captured from test/real-node runs): the log source reads each of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEvent } from '../../../src/events/schema.js';
import type { ObserverEvent } from '../../../src/events/types.js';
import { EventSink } from '../../../src/events/sink.js';
import { LogInterpreter } from '../../../src/sources/log/interpret.js';

const LINES = [
  '2026-12-06T01:25:01.300000Z [net] Added connection to 127.31.0.1:40001 peer=2',
  '2026-12-06T01:25:01.300010Z [net] connection from 127.31.0.1:40001 accepted',
  '2026-12-06T01:25:01.383758Z [net] received: pong (8 bytes) peer=2',
  '2026-12-06T01:25:01.383782Z [net] pong peer=2: Unsolicited pong without ping, 0 expected, a received, 8 bytes',
  '2026-12-06T01:25:01.583168Z [net] received: pong (8 bytes) peer=2',
  '2026-12-06T01:25:01.583186Z [net] pong peer=2: Nonce mismatch, 1f expected, 14 received, 8 bytes',
  '2026-12-06T01:25:24.086597Z [net] received: xyzzy (16 bytes) peer=2',
  '2026-12-06T01:25:24.086603Z [net] Unknown command "xyzzy" from peer=2',
  '2026-12-06T01:25:24.200062Z [net] received: inv (12 bytes) peer=2',
  "2026-12-06T01:25:24.200148Z [net] ProcessMessages(inv, 12 bytes): Exception 'DataStream::read(): end of data: iostream error' (NSt8ios_base7failureB5cxx11E) caught",
  // An exception line whose command is not the last received one names nobody: no event, never a wrong peer.
  "2026-12-06T01:25:24.300148Z [net] ProcessMessages(addr, 12 bytes): Exception 'DataStream::read(): end of data: iostream error' (NSt8ios_base7failureB5cxx11E) caught",
];

describe('Core v30 debug.log lines', () => {
  it('unsolicited pongs and unreadable payloads are violations of the peer; unknown commands and other pong problems known lines', () => {
    const events: ObserverEvent[] = [];
    const it = new LogInterpreter(new EventSink('core', 'log', (e) => events.push(parseEvent(JSON.parse(JSON.stringify(e))))), 'regtest');
    for (const l of LINES) it.line(l);
    const violations = events.flatMap((e) => (e.type === 'violation' ? [e.data] : []));
    assert.deepEqual(
      violations.map((v) => [v.conn.id, v.conn.remote, v.kind, v.command, v.size ?? null]),
      [
        [2, '127.31.0.1:40001', 'unsolicited-pong', 'pong', null],
        [2, '127.31.0.1:40001', 'malformed-payload', 'inv', 12],
      ],
    );
    assert.equal(violations[1]!.detail, 'DataStream::read(): end of data: iostream error');
    assert.equal(it.counters.unknown, 0);
    assert.equal(events.filter((e) => e.type === 'message' && e.data.command === 'xyzzy' && !e.data.known).length, 1);
  });
});
