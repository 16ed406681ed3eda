import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, nowUs } from '../../src/events/envelope.js';
import { EventValidationError } from '../../src/events/schema.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { decodeEvent, encodeEvent } from '../../src/events/wire.js';

const origin = { nodeId: 'obs-1', source: 'p2p' };
const conn = { id: 7, direction: 'inbound' as const, remote: '127.0.0.5:50123' };

const samples: ObserverEvent[] = [
  makeEvent(origin, 'connection.opened', { conn, local: '127.0.0.1:18444', network: 'regtest', netgroup: '127.0.0.0/16', transport: 'v1' }),
  makeEvent(origin, 'handshake.version', {
    conn,
    version: 70016,
    services: '18446744073709551615',
    serviceNames: ['NODE_NETWORK'],
    userAgent: '<img src=x onerror=alert(1)>',
    startHeight: 110,
    relay: true,
    nonce: '9007199254740993',
    timeOffsetSec: -2,
    receiver: '127.0.0.1:18444',
    sender: null,
  }),
  makeEvent(origin, 'message', { conn, dir: 'in', command: 'ping', size: 8, known: true, payload: { nonce: '1' } }),
  makeEvent(origin, 'violation', {
    conn,
    kind: 'oversize',
    action: 'disconnect',
    detail: 'addr: 2147483647 bytes',
    command: 'addr',
    size: 2147483647,
  }),
];

describe('event schema', () => {
  it('round-trips every sample losslessly, 64-bit values exact', () => {
    for (const e of samples) assert.deepEqual(decodeEvent(encodeEvent(e)), e);
    const v = decodeEvent(encodeEvent(samples[1]!));
    assert.equal(v.type === 'handshake.version' && BigInt(v.data.nonce), 9007199254740993n);
  });

  it('timestamps have sub-millisecond resolution and move forward', () => {
    const a = nowUs();
    let b = nowUs();
    while (b === a) b = nowUs();
    assert.ok(b > a && Number.isSafeInteger(b));
    assert.ok(Math.abs(a / 1000 - Date.now()) < 1000, 'close to the wall clock');
  });

  it('rejects malformed events with the failing field named', () => {
    const bad: [unknown, RegExp][] = [
      [{ ...samples[0], v: 2 }, /^v: /],
      [{ ...samples[0], type: 'nope' }, /^type: /],
      [{ ...samples[0], timeUs: 1.5 }, /^timeUs: /],
      [{ ...samples[1], data: { ...samples[1]!.data, nonce: '-1' } }, /handshake\.version: data\.nonce: /],
      [{ ...samples[1], data: { ...samples[1]!.data, nonce: 5 } }, /data\.nonce/],
      [{ ...samples[3], data: { ...samples[3]!.data, kind: 'made-up' } }, /data\.kind/],
      [{ ...samples[2], data: { ...samples[2]!.data, extra: 1 } }, /message: data/],
    ];
    for (const [value, pattern] of bad) {
      assert.throws(
        () => decodeEvent(new TextEncoder().encode(JSON.stringify(value))),
        (e: unknown) => e instanceof EventValidationError && pattern.test(e.message),
      );
    }
    assert.throws(() => decodeEvent(new Uint8Array([0xff, 0xfe])), EventValidationError);
    assert.throws(() => decodeEvent(new TextEncoder().encode('{"v":1')), /not a JSON document/);
  });
});

describe('free-form JSON payloads', () => {
  it('accepts JSON values and refuses what JSON cannot carry', async () => {
    const { isJsonValue } = await import('../../src/events/schema.js');
    assert.ok(isJsonValue({ a: [1, 'x', null, true, { b: [] }] }));
    assert.ok(isJsonValue(Object.create(null)));
    for (const bad of [NaN, Infinity, undefined, () => 1, new Date(0), new Uint8Array(1), 1n, { a: { b: undefined } }]) {
      assert.equal(isJsonValue(bad), false, String(bad));
    }
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    assert.equal(isJsonValue(deep), false, 'nesting is bounded');
  });

  it('validates a 1000-entry addr summary as part of a message event', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      addr: `1.2.${i >> 8}.${i & 255}`,
      port: 8333,
      services: '1033',
      time: 1795463934,
    }));
    const e = makeEvent(origin, 'message', {
      conn,
      dir: 'in',
      command: 'addr',
      size: 30_003,
      known: true,
      payload: { count: 1000, entries },
    });
    assert.deepEqual(decodeEvent(encodeEvent(e)), e);
  });
});
