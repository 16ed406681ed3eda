/**
 * The MessageSummary declaration (src/events/message-summary.ts) against what
 * the summariser really produces: every summary of the codec's generated corpus
 * and of Bitcoin Core's recorded streams (test/fixtures/bitcoind/p2p) passes the
 * schema through the compiled check and through zod, and comes back unchanged
 * through both wire formats. A malformed payload is refused with its field named.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { makeEvent } from '../../src/events/envelope.js';
import { SUMMARY_SCHEMAS, summaryOf, withoutPayload, withPayload } from '../../src/events/message-summary.js';
import { packEvents, unpackEvents } from '../../src/events/packed.js';
import { EventValidationError, parseEvent, parseEventWithZod } from '../../src/events/schema.js';
import { messageSummary } from '../../src/events/summary.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { decodeEvent, encodeEvent } from '../../src/events/wire.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { decodeMessage, encodePayload, KNOWN_COMMANDS, msg } from '../../src/protocol/messages/index.js';
import type { KnownCommand, Message } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { PAYLOADS } from '../protocol/arbitraries.js';

const conn = { id: 7, direction: 'inbound' as const, remote: '127.0.0.1:50000' };

function eventOf(m: Message, size = 0): ObserverEvent {
  return makeEvent({ nodeId: 'obs-1', source: 'p2p' }, 'message', { conn, dir: 'in', size, ...messageSummary(m) }, 1_700_000_000_000_000);
}

/** Valid by the compiled check (the same object back), by zod alone, and unchanged through JSON and MessagePack. */
function assertValidAndRoundTrips(e: ObserverEvent): void {
  assert.equal(parseEvent(e), e, `${e.type === 'message' ? e.data.command : ''}: the compiled check accepts it as it is`);
  assert.deepEqual(parseEventWithZod(e), e, 'zod accepts it unchanged');
  assert.deepEqual(decodeEvent(encodeEvent(e)), e, 'JSON wire round trip');
  assert.deepEqual(parseEvent(unpackEvents(packEvents([e]), 1)[0]), e, 'MessagePack wire round trip');
}

const anyMessage = fc.constantFrom(...(Object.keys(PAYLOADS) as KnownCommand[])).chain((c) => PAYLOADS[c].map((p) => msg(c, p as never)));

describe('MessageSummary: the summariser against its declaration', () => {
  it('declares a summary for exactly the commands the codec knows', () => {
    assert.deepEqual(Object.keys(SUMMARY_SCHEMAS).sort(), [...KNOWN_COMMANDS].sort());
  });

  it('every summary of the generated codec corpus passes the schema and round-trips (fast-check)', () => {
    fc.assert(
      fc.property(anyMessage, (m) => {
        const e = eventOf(m);
        assertValidAndRoundTrips(e);
        assert.equal(e.type === 'message' && e.data.known, true);
        // What the wire gives back decodes to the same summary.
        const again = decodeMessage(m.command, encodePayload(m));
        assert.deepEqual(eventOf(again), e);
      }),
      { numRuns: 400 },
    );
  });

  it('unknown commands: the bounded hex of any payload passes and round-trips (fast-check)', () => {
    const unknown = fc.record({
      command: fc.stringMatching(/^[a-z]{1,12}$/).filter((c) => !(KNOWN_COMMANDS as readonly string[]).includes(c)),
      payload: fc.uint8Array({ maxLength: 600 }),
    });
    fc.assert(
      fc.property(unknown, ({ command, payload }) => {
        const e = eventOf(decodeMessage(command, payload));
        assertValidAndRoundTrips(e);
        assert.ok(e.type === 'message' && !e.data.known && summaryOf(e.data)?.length === payload.length);
      }),
      { numRuns: 200 },
    );
  });

  it("every message of Bitcoin Core's recorded streams passes the schema and round-trips", () => {
    const dir = new URL('../fixtures/bitcoind/p2p/', import.meta.url);
    const commands = new Set<string>();
    let messages = 0;
    // v1 recordings (the v2 one is encrypted; its plaintext is the same kind of messages).
    for (const sub of ['v1', 'v1-attacks']) {
      for (const file of readdirSync(new URL(`${sub}/`, dir)).filter((f) => f.endsWith('.bin'))) {
        const decoder = new FrameDecoder({ network: NETWORKS.regtest, detectV2: false });
        for (const item of decoder.push(new Uint8Array(readFileSync(new URL(`${sub}/${file}`, dir))))) {
          if (item.type !== 'frame') continue;
          let m: Message;
          try {
            m = decodeMessage(item.frame.command, item.frame.payload);
          } catch {
            continue; // the malformed recording's garbage payloads: violations, never message events
          }
          const e = eventOf(m, item.frame.payload.length);
          assertValidAndRoundTrips(e);
          commands.add(m.command);
          messages++;
        }
      }
    }
    assert.ok(messages > 300, `${messages} messages`);
    for (const c of [
      'version',
      'verack',
      'ping',
      'pong',
      'addr',
      'inv',
      'getdata',
      'tx',
      'headers',
      'getheaders',
      'sendcmpct',
      'feefilter',
    ])
      assert.ok(commands.has(c), `the recordings hold ${c}`);
  });

  it('the partial forms of the log and usdt sources pass, and summaryOf tells them from a summary', () => {
    const base = { conn, dir: 'in' as const, size: 30_003 };
    const forms = [
      withoutPayload('addr'),
      withoutPayload('somethingnew'),
      withPayload('block', { truncated: true, capturedBytes: 32768, size: 40_000 }),
      withPayload('ping', { error: 'ping: unexpected end of data' }),
      withPayload('addr', {
        count: 1000,
        entries: [{ time: 1, services: '1', addr: '1.2.3.4', port: 8333 }],
        entriesCaptured: 1,
        truncated: true,
        capturedBytes: 40,
        size: 30_003,
      }),
    ];
    const summaries = forms.map((f) => {
      const e = makeEvent({ nodeId: 'obs-1', source: 'usdt' }, 'message', { ...base, ...f }, 1);
      assertValidAndRoundTrips(e);
      return e.type === 'message' && e.data.known ? summaryOf(e.data as never) : summaryOf(e.data as never);
    });
    assert.deepEqual(
      summaries.map((s) => s !== undefined),
      [false, false, false, false, true],
    );
    assert.equal(forms[0]!.known, true);
    assert.equal(forms[1]!.known, false);
  });

  it('refuses a payload that is not its command’s summary, naming the field', () => {
    const good = eventOf(msg('inv', { items: [{ type: 1, hash: new Uint8Array(32) }] }));
    const bad = (patch: (d: Record<string, unknown>) => void) => {
      const e = structuredClone(good) as unknown as { data: Record<string, unknown> };
      patch(e.data);
      return e;
    };
    const cases: [(d: Record<string, unknown>) => void, RegExp][] = [
      [(d) => ((d.payload as { count: unknown }).count = '1'), /data\.payload\.count/],
      [(d) => ((d.payload as { items: { hash: string }[] }).items[0]!.hash = 'zz'), /data\.payload\.items\.0\.hash/],
      [(d) => ((d.payload as Record<string, unknown>).extra = 1), /data\.payload/],
      [(d) => (d.command = 'ping'), /data\.payload/], // an inv summary is not a ping's
      [(d) => (d.known = false), /data\.payload/], // nor the hex of an unknown command
      [(d) => (d.command = 'nosuchcmd'), /data\.command/], // known, but no codec has it
    ];
    for (const [patch, field] of cases) {
      const e = bad(patch);
      assert.throws(
        () => parseEvent(e),
        (err: unknown) => err instanceof EventValidationError && field.test(err.message),
      );
      assert.throws(() => parseEventWithZod(e), EventValidationError);
    }
  });
});
