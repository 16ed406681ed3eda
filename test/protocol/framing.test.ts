import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, HEADER_SIZE, type DecodedItem } from '../../src/protocol/framing.js';
import { NETWORKS } from '../../src/protocol/networks.js';

const regtest = NETWORKS.regtest;

function frames(items: DecodedItem[]) {
  return items.map((i) =>
    i.type === 'frame' ? { command: i.frame.command, payload: Buffer.from(i.frame.payload).toString('hex') } : i.violation.kind,
  );
}

function feed(decoder: FrameDecoder, bytes: Uint8Array, cuts: number[]): DecodedItem[] {
  const out: DecodedItem[] = [];
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...decoder.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...decoder.push(bytes.subarray(at)));
  return out;
}

describe('framing', () => {
  it('encodes the header layout: magic, NUL-padded command, length, checksum', () => {
    // verack on regtest: empty payload, checksum 5df6e0e2 (sha256d of nothing).
    assert.equal(
      Buffer.from(encodeFrame(regtest, 'verack', new Uint8Array())).toString('hex'),
      'fabfb5da76657261636b000000000000000000005df6e0e2',
    );
  });

  it('decodes the same frames whatever the chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ command: fc.constantFrom('ping', 'tx', 'inv', 'x'), payload: fc.uint8Array({ maxLength: 300 }) }), {
          maxLength: 8,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (msgs, rawCuts) => {
          const wire = Buffer.concat(msgs.map((m) => encodeFrame(regtest, m.command, m.payload)));
          const cuts = rawCuts.map((c) => (wire.length === 0 ? 0 : c % wire.length));
          const got = frames(feed(new FrameDecoder({ network: regtest }), wire, cuts));
          assert.deepEqual(
            got,
            msgs.map((m) => ({ command: m.command, payload: Buffer.from(m.payload).toString('hex') })),
          );
        },
      ),
    );
  });

  it('rejects an oversize length from the header alone, before any payload arrives', () => {
    const head = encodeFrame(regtest, 'addr', new Uint8Array()).subarray(0, HEADER_SIZE);
    new DataView(head.buffer, head.byteOffset).setUint32(16, 2_147_483_647, true);
    const d = new FrameDecoder({ network: regtest });
    const out = d.push(head);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.type === 'violation' && out[0]!.violation.kind, 'oversize');
    assert.ok(d.closed);
    assert.equal(d.allocated, 0);
    assert.deepEqual(d.push(new Uint8Array(100)), [], 'a closed decoder takes no more bytes');
  });

  it('allocates for a partial payload only what was received, even 1 byte at a time', () => {
    const payload = new Uint8Array(1_000_000).fill(7);
    const wire = encodeFrame(regtest, 'block', payload);
    const d = new FrameDecoder({ network: regtest });
    let maxRatio = 0;
    const out: DecodedItem[] = [];
    for (let i = 0; i < HEADER_SIZE + 10_000; i++) out.push(...d.push(wire.subarray(i, i + 1)));
    maxRatio = d.allocated / 10_000;
    assert.ok(maxRatio <= 2, `allocated ${d.allocated} for 10000 received payload bytes`);
    out.push(...d.push(wire.subarray(HEADER_SIZE + 10_000)));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.type, 'frame');
  });

  it('drops a frame with a bad checksum and goes on, as Core does', () => {
    const bad = encodeFrame(regtest, 'ping', new Uint8Array(8));
    bad[20]! ^= 0xff;
    const good = encodeFrame(regtest, 'pong', new Uint8Array(8));
    const out = new FrameDecoder({ network: regtest }).push(Buffer.concat([bad, good]));
    assert.deepEqual(frames(out), ['bad-checksum', { command: 'pong', payload: '0000000000000000' }]);
  });

  it('drops a frame whose command is not printable ASCII with NUL padding', () => {
    const f = encodeFrame(regtest, 'ping', new Uint8Array(8));
    f[9] = 0x41; // a byte after the first NUL
    const out = new FrameDecoder({ network: regtest }).push(f);
    assert.deepEqual(frames(out), ['invalid-command']);
  });

  it('tells a v2 peer, another network and a desynchronised stream apart', () => {
    const ellswiftLike = new Uint8Array(64).fill(0x42);
    assert.deepEqual(frames(new FrameDecoder({ network: regtest, detectV2: true }).push(ellswiftLike.subarray(0, 5))), ['v2-transport']);
    const mainnetVersion = encodeFrame(NETWORKS.mainnet, 'version', new Uint8Array());
    assert.deepEqual(frames(new FrameDecoder({ network: regtest, detectV2: true }).push(mainnetVersion)), ['wrong-network']);
    const later = Buffer.concat([encodeFrame(regtest, 'verack', new Uint8Array()), ellswiftLike]);
    assert.deepEqual(frames(new FrameDecoder({ network: regtest, detectV2: true }).push(later)), [
      { command: 'verack', payload: '' },
      'bad-magic',
    ]);
  });
});
