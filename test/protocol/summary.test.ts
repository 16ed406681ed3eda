import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { summarizeMessage } from '../../src/events/summary.js';
import { ipFromString } from '../../src/protocol/address.js';
import { decodeMessage, msg } from '../../src/protocol/messages/index.js';
import type { KnownCommand } from '../../src/protocol/messages/types.js';
import { PAYLOADS } from './arbitraries.js';

describe('summarizeMessage', () => {
  it('is JSON-safe and bounded for every command', () => {
    const any = fc.constantFrom(...(Object.keys(PAYLOADS) as KnownCommand[])).chain((c) => PAYLOADS[c].map((p) => msg(c, p as never)));
    fc.assert(
      fc.property(any, (m) => {
        const s = summarizeMessage(m);
        const text = JSON.stringify(s);
        assert.deepEqual(JSON.parse(text), s, 'survives JSON');
        assert.ok(text.length < 200_000);
      }),
      { numRuns: 200 },
    );
  });

  it('version: 64-bit values as decimal strings, addresses as text', () => {
    const s = summarizeMessage(
      msg('version', {
        version: 70016,
        services: 0xffffffffffffffffn,
        timestamp: 1795463934n,
        receiver: { services: 0n, ip: ipFromString('1.2.3.4'), port: 8333 },
        sender: { services: 9n, ip: ipFromString('2001:db8::1'), port: 18444 },
        nonce: 18446744073709551615n,
        userAgent: '/Satoshi:30.99.0/',
        startHeight: 110,
      }),
    ) as Record<string, unknown>;
    assert.equal(s.services, '18446744073709551615');
    assert.equal(s.nonce, '18446744073709551615');
    assert.deepEqual(s.receiver, { addr: '1.2.3.4', port: 8333, services: '0' });
    assert.deepEqual(s.sender, { addr: '2001:db8::1', port: 18444, services: '9' });
    assert.equal(s.relay, null);
    assert.ok((s.serviceNames as string[]).includes('NODE_WITNESS'));
  });

  it('addrv2 lists every entry with its network', () => {
    const s = summarizeMessage(
      msg('addrv2', {
        entries: [
          { time: 1, services: 1n, networkId: 1, addr: Uint8Array.of(1, 2, 3, 4), port: 8333 },
          { time: 2, services: 0n, networkId: 42, addr: Uint8Array.of(0xab), port: 1 },
        ],
      }),
    );
    assert.deepEqual(s, {
      count: 2,
      entries: [
        { time: 1, services: '1', network: 'ipv4', addr: '1.2.3.4', port: 8333 },
        { time: 2, services: '0', network: 'net42', addr: 'net42:ab', port: 1 },
      ],
    });
  });

  it('inv: counts by type and the first 16 items in display order', () => {
    const hash = new Uint8Array(32);
    hash[0] = 0xaa;
    const items = Array.from({ length: 40 }, (_, i) => ({ type: i % 2 ? 5 : 0x40000002, hash }));
    const s = summarizeMessage(msg('inv', { items })) as Record<string, unknown>;
    assert.equal(s.count, 40);
    assert.deepEqual(s.types, { witness_block: 20, wtx: 20 });
    assert.equal((s.items as unknown[]).length, 16);
    assert.equal((s.items as { hash: string }[])[0]!.hash, '00'.repeat(31) + 'aa');
  });

  it('unknown: length and at most 256 bytes of hex', () => {
    const s = summarizeMessage(decodeMessage('foobar', new Uint8Array(1000).fill(1))) as Record<string, unknown>;
    assert.equal(s.length, 1000);
    assert.equal(s.hex, '01'.repeat(256));
    assert.equal(s.truncated, true);
  });

  it('tx: txid, wtxid, vsize of a segwit tx', () => {
    const s = summarizeMessage(
      msg('tx', {
        version: 2,
        inputs: [{ prevTxid: new Uint8Array(32), prevIndex: 0, scriptSig: new Uint8Array(0), sequence: 0 }],
        outputs: [{ value: 1n, scriptPubKey: new Uint8Array(22) }],
        witnesses: [[new Uint8Array(72), new Uint8Array(33)]],
        lockTime: 0,
      }),
    ) as Record<string, unknown>;
    assert.equal(s.segwit, true);
    assert.notEqual(s.txid, s.wtxid);
    // base 4+1+41+1+31+4 = 82; total adds marker/flag 2 + witness 1+1+72+1+33 = 110 → 192; weight 82*3+192 = 438
    assert.equal(s.weight, 438);
    assert.equal(s.vsize, 110);
  });
});
