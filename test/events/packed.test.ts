/**
 * The MessagePack batch format (src/events/packed.ts): lossless for every
 * valid event, self-contained per message, and safe on hostile bytes — a
 * malformed batch throws EventValidationError and nothing else, and whatever
 * MessagePack can carry that JSON cannot is refused by validation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr/pack';
import * as msgpackrUnpack from 'msgpackr/unpack';
import { estimatePackedBytes, packEvents, unpackEvents } from '../../src/events/packed.js';
import { EventValidationError, parseEvent } from '../../src/events/schema.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { anyEvent } from '../helpers/event-arbitraries.js';

const ping = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  v: 1,
  type: 'ping.latency',
  nodeId: 'obs-1',
  timeUs: 1_764_000_000_000_000 + i,
  source: 'p2p',
  data: { conn: { id: i, direction: 'inbound', remote: '127.0.0.5:8333' }, nonce: '18446744073709551615', latencyMs: 1.5, ...extra },
});

/** Unpack and validate as the NATS subscriber does: the events, or the first error. */
function decode(bytes: Uint8Array, count: number): ObserverEvent[] {
  return unpackEvents(bytes, count).map((item) => parseEvent(item));
}

describe('MessagePack batches (NATS format v2)', () => {
  it('decodes every valid event to exactly what its JSON decodes to, alone and in batches', () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { minLength: 1, maxLength: 20 }), (events) => {
        const valid = events.filter((e) => {
          try {
            parseEvent(e);
            return true;
          } catch {
            return false;
          }
        }) as unknown as ObserverEvent[];
        if (valid.length === 0) return;
        // The reference is the JSON wire format (which, like MessagePack integers, has no -0).
        const viaJson = JSON.parse(JSON.stringify(valid)) as ObserverEvent[];
        assert.deepEqual(decode(packEvents(valid), valid.length), viaJson);
        valid.forEach((e, i) => assert.deepEqual(decode(packEvents([e]), 1), [viaJson[i]]));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps 64-bit decimal strings, µs timestamps, big raw payloads and non-ASCII text intact', () => {
    const raw = Buffer.alloc(3_000_000, 0xab).toString('base64');
    const events = [
      ping(0),
      ping(1, { latencyMs: 0.000123 }),
      {
        ...ping(2),
        type: 'message',
        data: {
          conn: { id: 2, direction: 'inbound', remote: '[2001:db8::1]:8333' },
          dir: 'in',
          command: 'version',
          size: 3_000_000,
          known: true,
          payload: {
            version: 70016,
            services: '18446744073709551615',
            serviceNames: ['NODE_NETWORK'],
            timestamp: '-9223372036854775808',
            receiver: { addr: '::', port: 0, services: '0' },
            sender: null,
            nonce: '18446744073709551615',
            userAgent: '/Satoshi:27.0.0/ünïcødé 🦀/',
            startHeight: -1,
            relay: null,
          },
          raw,
        },
      },
    ] as unknown as ObserverEvent[];
    const back = decode(packEvents(events), 3);
    assert.deepEqual(back, events);
    assert.equal(typeof back[0]!.timeUs, 'number');
  });

  it('is smaller than the same events as JSON', () => {
    const events = Array.from({ length: 200 }, (_, i) => ping(i)) as unknown as ObserverEvent[];
    const packed = packEvents(events).length;
    const json = Buffer.byteLength(events.map((e) => JSON.stringify(e)).join('\n'));
    assert.ok(packed < json * 0.7, `${packed} bytes packed vs ${json} as JSON`);
  });

  it('needs nothing from an earlier message: every batch defines its own records', () => {
    const a = packEvents([ping(1)] as unknown as ObserverEvent[]);
    const b = packEvents([ping(2)] as unknown as ObserverEvent[]);
    // Decoded in the opposite order, and each one alone.
    assert.deepEqual(decode(b, 1), [ping(2)]);
    assert.deepEqual(decode(a, 1), [ping(1)]);
    // A message that only references a record defined in another message is refused, not read with that definition.
    const packr = new Packr({ useRecords: true, sequential: true });
    packr.pack([ping(3)]);
    const dependent = packr.pack([ping(4)]);
    assert.throws(() => decode(dependent, 1), EventValidationError);
  });

  it('decodes strings without the native extractor (no string keeps a larger one alive)', () => {
    packEvents([ping(1)] as unknown as ObserverEvent[]);
    unpackEvents(packEvents([ping(1)] as unknown as ObserverEvent[]), 1);
    assert.equal((msgpackrUnpack as Record<string, unknown>).isNativeAccelerationEnabled, false);
  });

  it('refuses what is not one array of `count` items', () => {
    const one = packEvents([ping(1)] as unknown as ObserverEvent[]);
    assert.throws(() => unpackEvents(one, 2), /batch of 2 events holds 1 items/);
    assert.throws(() => unpackEvents(new Packr().pack({ not: 'an array' }), 1), /not an array/);
    assert.throws(() => unpackEvents(one.subarray(0, one.length - 3), 1), EventValidationError);
    assert.throws(() => unpackEvents(new Uint8Array([0xc1]), 1), EventValidationError);
    assert.throws(() => unpackEvents(Buffer.from('{"v":1}'), 1), EventValidationError);
  });

  it('refuses values JSON cannot carry: binary, Map, Date, undefined, BigInt, non-finite numbers', () => {
    const plain = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, useBigIntExtension: true });
    const withMap = new Packr({ useRecords: false, mapsAsObjects: false });
    const cases: [string, Uint8Array][] = [
      ['binary', plain.pack([ping(1, { nonce: Buffer.from('01', 'hex') })])],
      ['Date', plain.pack([ping(1, { nonce: new Date(0) })])],
      ['Map', withMap.pack([{ ...ping(1), data: new Map([['conn', 1]]) }])],
      ['undefined', plain.pack([ping(1, { nonce: undefined })])],
      ['BigInt', plain.pack([{ ...ping(1), timeUs: 2n ** 63n }])],
      ['NaN', plain.pack([ping(1, { latencyMs: NaN })])],
      ['Infinity', plain.pack([ping(1, { latencyMs: Infinity })])],
      ['Set', plain.pack([{ ...ping(1), data: new Set([1]) }])],
    ];
    for (const [what, bytes] of cases) {
      assert.throws(() => decode(bytes, 1), EventValidationError, what);
    }
  });

  it('refuses shared references and bundled strings before anything walks or keeps them', () => {
    // A DAG: 40 levels, each an array holding the level below twice; 2^40 paths for a validation walk, 40 objects to send.
    let dag: unknown = 'leaf';
    for (let i = 0; i < 40; i++) dag = [dag, dag];
    const shared = new Packr({ useRecords: false, structuredClone: true }).pack([ping(1, { nonce: dag })]);
    assert.ok(shared.length < 2000, `${shared.length} bytes`);
    assert.throws(() => unpackEvents(shared, 1), /extension 0x(69|70) is not part of an event/);
    // Bundled strings decode to slices of one bundle string: one kept string would keep the bundle.
    const bundled = new Packr({ useRecords: false, bundleStrings: true }).pack([ping(1)]);
    assert.throws(() => unpackEvents(bundled, 1), /extension 0x62 is not part of an event/);
    const typed = new Packr({ useRecords: false, moreTypes: true }).pack([ping(1, { nonce: new Uint16Array(4) })]);
    assert.throws(() => unpackEvents(typed, 1), /extension 0x74 is not part of an event/);
  });

  it('cannot be used to set a prototype: `__proto__` keys are renamed, and the event refused', () => {
    // A map (as another MessagePack library sends objects) with a `__proto__` key, in an otherwise valid event's data.
    const item = JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    const bytes = new Packr({ useRecords: false }).pack([{ ...ping(1), data: { ...(ping(1).data as object), ...item } }]);
    const [decoded] = unpackEvents(bytes, 1) as Record<string, Record<string, unknown>>[];
    assert.equal(Object.getPrototypeOf(decoded!.data), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.throws(() => decode(bytes, 1), EventValidationError);
  });

  it('on arbitrary and mutated bytes throws EventValidationError only, and returns only valid events', () => {
    const base = packEvents(Array.from({ length: 5 }, (_, i) => ping(i)) as unknown as ObserverEvent[]);
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
      .map(([edits, cut]) => {
        const b = Buffer.from(base);
        for (const [at, byte] of edits) b[at % b.length] = byte;
        return b.subarray(0, b.length - (cut % 4));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), fc.integer({ min: 1, max: 6 }), (bytes, count) => {
        try {
          for (const e of decode(bytes, count)) assert.equal(Object.getPrototypeOf(e), Object.prototype);
        } catch (e) {
          if (!(e instanceof EventValidationError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('estimates a message event from its wire size and raw payload, others at a fixed size', () => {
    const e = { ...ping(1), type: 'message', data: { size: 1000, raw: 'AAAA' } } as unknown as ObserverEvent;
    assert.equal(estimatePackedBytes(e), 256 + 3000 + 4);
    assert.equal(estimatePackedBytes(ping(1) as unknown as ObserverEvent), 256);
  });
});
