/**
 * BIP324's official test vectors (test/fixtures/bip324/, copied from the BIP):
 * ElligatorSwift decoding, XSwiftECInv for every case, and packet encoding from
 * the ECDH up to the ciphertext, including the runs that cross rekeying.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  bigIntTo32,
  bytesToBigInt,
  ellswiftDecode,
  ellswiftEcdhXonly,
  v2Ecdh,
  xswiftec,
  xswiftecInv,
} from '../../../src/protocol/v2/ellswift.js';
import { deriveSessionKeys, PacketCipher } from '../../../src/protocol/v2/cipher.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function csv(name: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(new URL(`../../fixtures/bip324/${name}`, import.meta.url), 'utf8')
    .trim()
    .split(/\r?\n/);
  const keys = head!.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [keys[i]!, v])));
}

describe('BIP324 ellswift_decode vectors', () => {
  const rows = csv('ellswift_decode_test_vectors.csv');
  it(`decodes all ${rows.length}`, () => {
    assert.ok(rows.length >= 70);
    for (const r of rows) assert.equal(toHex(bigIntTo32(ellswiftDecode(hex(r.ellswift!)))), r.x, r.comment);
  });
});

describe('BIP324 xswiftec_inv vectors', () => {
  const rows = csv('xswiftec_inv_test_vectors.csv');
  it(`every case of all ${rows.length}`, () => {
    assert.ok(rows.length >= 30);
    let found = 0;
    for (const r of rows) {
      const u = bytesToBigInt(hex(r.u!));
      const x = bytesToBigInt(hex(r.x!));
      for (let c = 0; c < 8; c++) {
        const want = r[`case${c}_t`]!;
        const t = xswiftecInv(x, u, c);
        assert.equal(t === undefined ? '' : toHex(bigIntTo32(t)), want, `${r.comment} case ${c}`);
        if (t !== undefined) {
          found++;
          assert.equal(xswiftec(u, t), x, 'the inverse decodes back');
        }
      }
    }
    assert.ok(found > 50);
  });
});

describe('BIP324 packet encoding vectors', () => {
  const rows = csv('packet_encoding_test_vectors.csv');
  for (const r of rows) {
    it(`packet ${r.in_idx} (initiating ${r.in_initiating}, contents ${r.in_contents!.length / 2}×${r.in_multiply})`, () => {
      const initiating = r.in_initiating === '1';
      const priv = hex(r.in_priv_ours!);
      const ours = hex(r.in_ellswift_ours!);
      const theirs = hex(r.in_ellswift_theirs!);
      assert.equal(toHex(bigIntTo32(ellswiftDecode(ours))), r.mid_x_ours);
      assert.equal(toHex(bigIntTo32(ellswiftDecode(theirs))), r.mid_x_theirs);
      assert.equal(toHex(ellswiftEcdhXonly(theirs, priv)), r.mid_x_shared);
      const secret = v2Ecdh(priv, theirs, ours, initiating);
      assert.equal(toHex(secret), r.mid_shared_secret);
      const keys = deriveSessionKeys(secret, 0xf9beb4d9, initiating);
      assert.equal(toHex(initiating ? keys.sendL : keys.recvL), r.mid_initiator_l);
      assert.equal(toHex(initiating ? keys.sendP : keys.recvP), r.mid_initiator_p);
      assert.equal(toHex(initiating ? keys.recvL : keys.sendL), r.mid_responder_l);
      assert.equal(toHex(initiating ? keys.recvP : keys.sendP), r.mid_responder_p);
      assert.equal(toHex(keys.sendGarbageTerminator), r.mid_send_garbage_terminator);
      assert.equal(toHex(keys.recvGarbageTerminator), r.mid_recv_garbage_terminator);
      assert.equal(toHex(keys.sessionId), r.out_session_id);

      const cipher = new PacketCipher(keys);
      const index = Number(r.in_idx);
      for (let i = 0; i < index; i++) cipher.encrypt([], new Uint8Array(0), false);
      const unit = hex(r.in_contents!);
      const contents = new Uint8Array(unit.length * Number(r.in_multiply));
      for (let i = 0; i < contents.length; i += unit.length) contents.set(unit, i);
      const ct = cipher.encrypt([contents], hex(r.in_aad!), r.in_ignore === '1');
      if (r.out_ciphertext) assert.equal(toHex(ct), r.out_ciphertext);
      else assert.ok(toHex(ct).endsWith(r.out_ciphertext_endswith!), 'ciphertext ends as the vector says');

      // The other side of the same session decrypts it (after the same number of packets).
      const mirror = new PacketCipher(deriveSessionKeys(secret, 0xf9beb4d9, !initiating));
      for (let i = 0; i < index; i++) {
        mirror.decryptLength(new Uint8Array(3));
        assert.equal(mirror.decrypt(new Uint8Array(17), new Uint8Array(0)), undefined); // a bad tag still moves the key on
      }
      assert.equal(mirror.decryptLength(ct.subarray(0, 3)), contents.length);
      const plain = mirror.decrypt(ct.subarray(3), hex(r.in_aad!));
      assert.ok(plain);
      assert.equal(plain.ignore, r.in_ignore === '1');
      assert.equal(toHex(plain.contents), toHex(contents));
    });
  }
});
