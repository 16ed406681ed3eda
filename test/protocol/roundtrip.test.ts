/** Round-trip properties for every message: decode(encode(v)) = v and encode(decode(b)) = b. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CODECS, decodeMessage, encodeMessageFrame, encodePayload, KNOWN_COMMANDS, msg } from '../../src/protocol/messages/index.js';
import type { KnownCommand, Payloads } from '../../src/protocol/messages/types.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { PAYLOADS } from './arbitraries.js';

/** Byte arrays decode as views into the input: compare them as plain arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('round trip (fast-check)', () => {
  it('covers every command in Payloads', () => {
    assert.deepEqual([...KNOWN_COMMANDS].sort(), Object.keys(PAYLOADS).sort());
    assert.deepEqual(Object.keys(CODECS).sort(), Object.keys(PAYLOADS).sort());
  });

  for (const command of Object.keys(PAYLOADS) as KnownCommand[]) {
    it(command, () => {
      const arb = PAYLOADS[command] as fc.Arbitrary<Payloads[typeof command]>;
      fc.assert(
        fc.property(arb, (value) => {
          const m = msg(command, value);
          const bytes = encodePayload(m);
          const decoded = decodeMessage(command, bytes);
          assert.deepEqual(plain(decoded), plain(m));
          assert.deepEqual(encodePayload(decoded), bytes);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('frames: encodeMessageFrame → FrameDecoder → decodeMessage, any chunking', () => {
    const anyMessage = fc
      .constantFrom(...(Object.keys(PAYLOADS) as KnownCommand[]))
      .chain((c) => PAYLOADS[c].map((p) => msg(c, p as never)));
    fc.assert(
      fc.property(fc.array(anyMessage, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 97 }), (msgs, chunk) => {
        const stream = Buffer.concat(msgs.map((m) => encodeMessageFrame(NETWORKS.mainnet, m)));
        const dec = new FrameDecoder({ network: NETWORKS.mainnet });
        const got = [];
        for (let i = 0; i < stream.length; i += chunk) {
          for (const item of dec.push(new Uint8Array(stream.subarray(i, i + chunk)))) {
            assert.equal(item.type, 'frame');
            if (item.type === 'frame') got.push(decodeMessage(item.frame.command, item.frame.payload));
          }
        }
        assert.deepEqual(plain(got), plain(msgs));
      }),
      { numRuns: 40 },
    );
  });
});
