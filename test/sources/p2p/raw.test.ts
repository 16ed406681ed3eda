import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame } from '../../../src/protocol/framing.js';
import { encodePayload } from '../../../src/protocol/messages/index.js';
import { REGTEST, startTestObserver, TestPeer, versionMessage } from './helpers.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

test('recordRaw keeps every received payload byte for byte, malformed ones included', async (t) => {
  const o = await startTestObserver({ recordRaw: true });
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  const version = versionMessage();
  peer.sendRaw(encodeFrame(REGTEST, 'version', encodePayload(version)));
  const bogus = new Uint8Array([0xfd, 0x01]); // a truncated CompactSize: malformed
  peer.sendRaw(encodeFrame(REGTEST, 'verack', new Uint8Array()));
  peer.sendRaw(encodeFrame(REGTEST, 'inv', bogus));
  const v = await o.log.waitFor('message', (e) => e.data.dir === 'in' && e.data.command === 'version');
  assert.equal(v.data.raw, b64(encodePayload(version)));
  const bad = await o.log.waitFor('violation', (e) => e.data.kind === 'malformed-payload');
  assert.equal(bad.data.raw, b64(bogus));
  assert.ok(
    o.log.of('message', (e) => e.data.dir === 'out').every((e) => e.data.raw === undefined),
    'what we send is not duplicated',
  );
  assert.deepEqual(o.log.invalid, []);
});

test('without recordRaw, events carry summaries only', async (t) => {
  const o = await startTestObserver();
  t.after(() => o.stop());
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  peer.sendRaw(encodeFrame(REGTEST, 'version', encodePayload(versionMessage())));
  const v = await o.log.waitFor('message', (e) => e.data.dir === 'in');
  assert.equal(v.data.raw, undefined);
});
