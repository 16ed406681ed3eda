/**
 * Decode cost stays linear in input size — checked by counting work, not by timing.
 * Every bounds check and every field read goes through Reader.need/Reader.take; we
 * count those calls and the bytes they cover for hostile inputs at size n and 2n:
 * the work must double (not quadruple) and never touch more than a small constant
 * times the input. The streaming decoder is checked for bounded buffering under
 * 1-byte chunking.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Reader } from '../../src/protocol/codec.js';
import { encodeFrame, FrameDecoder, HEADER_SIZE } from '../../src/protocol/framing.js';
import { decodeMessage, encodePayload, msg } from '../../src/protocol/messages/index.js';
import type { Tx } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';

const work = { calls: 0, bytes: 0 };
const originalNeed = Reader.prototype.need;
const originalTake = Reader.prototype.take;

before(() => {
  Reader.prototype.need = function (n: number, what: string) {
    work.calls++;
    work.bytes += n;
    return originalNeed.call(this, n, what);
  };
  Reader.prototype.take = function (n: number, what?: string) {
    work.calls++;
    return originalTake.call(this, n, what);
  };
});
after(() => {
  Reader.prototype.need = originalNeed;
  Reader.prototype.take = originalTake;
});

function measure(command: string, payload: Uint8Array): { calls: number; bytes: number } {
  work.calls = 0;
  work.bytes = 0;
  decodeMessage(command, payload);
  return { ...work };
}

const tinyTx = (inputs: number, witnessItems: number): Tx => ({
  version: 2,
  inputs: Array.from({ length: inputs }, () => ({ prevTxid: new Uint8Array(32), prevIndex: 0, scriptSig: new Uint8Array(0), sequence: 0 })),
  outputs: [{ value: 0n, scriptPubKey: new Uint8Array(0) }],
  witnesses: Array.from({ length: inputs }, (_, i) => (i === 0 ? Array.from({ length: witnessItems }, () => new Uint8Array(0)) : [])),
  lockTime: 0,
});

/** Hostile shapes, each built at a size parameter k: many tiny items is where per-item costs add up. */
const SHAPES: { name: string; build: (k: number) => [string, Uint8Array] }[] = [
  {
    name: 'addrv2: many entries with unknown networks',
    build: (k) => [
      'addrv2',
      encodePayload(
        msg('addrv2', {
          entries: Array.from({ length: k }, (_, i) => ({
            time: i,
            services: 1n << 40n,
            networkId: 99,
            addr: new Uint8Array(i % 512),
            port: 1,
          })),
        }),
      ),
    ],
  },
  { name: 'tx: many empty witness items', build: (k) => ['tx', encodePayload(msg('tx', tinyTx(1, k * 50)))] },
  { name: 'tx: many inputs', build: (k) => ['tx', encodePayload(msg('tx', tinyTx(k, 1)))] },
  {
    name: 'block: many minimal transactions',
    build: (k) => [
      'block',
      encodePayload(
        msg('block', {
          header: { version: 1, prevBlock: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 0, bits: 0, nonce: 0 },
          txs: Array.from({ length: k }, () => ({ version: 1, inputs: [], outputs: [], lockTime: 0 })),
        }),
      ),
    ],
  },
  {
    name: 'cmpctblock: many short ids',
    build: (k) => [
      'cmpctblock',
      encodePayload(
        msg('cmpctblock', {
          header: { version: 1, prevBlock: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 0, bits: 0, nonce: 0 },
          nonce: 0n,
          shortIds: Array.from({ length: Math.min(k * 10, 60_000) }, () => new Uint8Array(6)),
          prefilled: [],
        }),
      ),
    ],
  },
  {
    name: 'getblocktxn: many indexes',
    build: (k) => [
      'getblocktxn',
      encodePayload(
        msg('getblocktxn', { blockHash: new Uint8Array(32), indexes: Array.from({ length: Math.min(k * 10, 65_535) }, (_, i) => i) }),
      ),
    ],
  },
  {
    name: 'inv: many items',
    build: (k) => [
      'inv',
      encodePayload(msg('inv', { items: Array.from({ length: Math.min(k * 10, 50_000) }, () => ({ type: 1, hash: new Uint8Array(32) })) })),
    ],
  },
];

describe('decode work is linear in input size', () => {
  for (const shape of SHAPES) {
    it(shape.name, () => {
      const [c1, p1] = shape.build(500);
      const [c2, p2] = shape.build(1000);
      const w1 = measure(c1, p1);
      const w2 = measure(c2, p2);
      const sizeRatio = p2.length / p1.length;
      const callRatio = w2.calls / Math.max(1, w1.calls);
      assert.ok(callRatio <= sizeRatio * 1.1 + 0.1, `calls grew ${callRatio.toFixed(2)}× for ${sizeRatio.toFixed(2)}× bytes`);
      // Bounds checks cover each byte a bounded number of times.
      assert.ok(w2.bytes <= 2 * p2.length, `checked ${w2.bytes} bytes for a ${p2.length}-byte payload`);
    });
  }

  it('a count that lies is refused before any per-item work', () => {
    // 50,000 inv items claimed, 36 bytes present: no item is read.
    const payload = new Uint8Array([0xfd, 0x50, 0xc3, ...new Uint8Array(36)]);
    work.calls = 0;
    assert.throws(() => decodeMessage('inv', payload), { code: 'truncated' });
    assert.ok(work.calls <= 2, `${work.calls} reads`);
  });
});

describe('streaming decoder under 1-byte chunking', () => {
  it('buffers at most one header plus one payload and yields the same frames', () => {
    const frames = [
      encodeFrame(NETWORKS.regtest, 'ping', new Uint8Array(8)),
      encodeFrame(
        NETWORKS.regtest,
        'inv',
        encodePayload(msg('inv', { items: Array.from({ length: 300 }, () => ({ type: 1, hash: new Uint8Array(32).fill(7) })) })),
      ),
      encodeFrame(NETWORKS.regtest, 'verack', new Uint8Array(0)),
    ];
    const stream = Buffer.concat(frames);
    const largest = Math.max(...frames.map((f) => f.length));
    const dec = new FrameDecoder({ network: NETWORKS.regtest });
    const commands: string[] = [];
    let maxPending = 0;
    for (let i = 0; i < stream.length; i++) {
      for (const item of dec.push(new Uint8Array(stream.subarray(i, i + 1)))) {
        assert.equal(item.type, 'frame');
        if (item.type === 'frame') commands.push(decodeMessage(item.frame.command, item.frame.payload).command);
      }
      maxPending = Math.max(maxPending, dec.pending);
    }
    assert.deepEqual(commands, ['ping', 'inv', 'verack']);
    assert.ok(maxPending <= largest, `pending ${maxPending} > largest frame ${largest}`);
    assert.equal(dec.pending, 0);
  });

  it('an oversize header is refused after 24 bytes, nothing buffered', () => {
    const head = new Uint8Array(HEADER_SIZE);
    new DataView(head.buffer).setUint32(0, NETWORKS.regtest.magic, false);
    head.set(Buffer.from('addr'), 4);
    new DataView(head.buffer).setUint32(16, 0x7fffffff, true);
    const dec = new FrameDecoder({ network: NETWORKS.regtest });
    let fatal = false;
    for (let i = 0; i < head.length; i++) {
      for (const item of dec.push(head.subarray(i, i + 1)))
        if (item.type === 'violation' && item.violation.kind === 'oversize') fatal = true;
    }
    assert.ok(fatal && dec.closed);
    assert.equal(dec.pending, 0);
    assert.deepEqual(dec.push(new Uint8Array(1000)), []);
  });
});
