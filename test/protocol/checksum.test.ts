import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sha256d, sha256dChecksum } from '../../src/protocol/hash.js';

/** The reference: node:crypto twice, nothing of ours. */
function reference(data: Uint8Array): Buffer {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}

describe('frame checksum (JS second round) against node:crypto', () => {
  it('agrees for every length 0..3000 at odd offsets', () => {
    const pool = randomBytes(3100);
    for (let n = 0; n <= 3000; n++) {
      const data = pool.subarray(n % 7, (n % 7) + n);
      assert.equal(sha256dChecksum(data), reference(data).readUInt32BE(0), `length ${n}`);
    }
  });

  it('agrees on known vectors and large inputs', () => {
    // sha256d('') starts 5df6e0e2: the checksum of every empty payload (verack, ...).
    assert.equal(sha256dChecksum(new Uint8Array()), 0x5df6e0e2);
    for (const n of [65_536, 1_000_000, 4_000_000]) {
      const data = randomBytes(n);
      assert.equal(sha256dChecksum(data), reference(data).readUInt32BE(0));
    }
  });

  it('agrees on arbitrary inputs (property), and sha256d is the full reference hash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const ref = reference(data);
        assert.equal(sha256dChecksum(data), ref.readUInt32BE(0));
        assert.deepEqual(Buffer.from(sha256d(data)), ref);
      }),
      { numRuns: 500 },
    );
  });
});
