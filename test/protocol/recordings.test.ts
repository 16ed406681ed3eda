/**
 * Real bytes from Bitcoin Core (test/fixtures/bitcoind): every recorded stream is
 * replayed with its recorded TCP chunking through FrameDecoder and every frame is
 * decoded; the result must match what Core itself logged for that peer.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FrameDecoder, type FramingViolation } from '../../src/protocol/framing.js';
import { hashToHex } from '../../src/protocol/hash.js';
import { blockHash, txid, wtxid } from '../../src/protocol/messages/ids.js';
import { decodeMessage, encodePayload, isKnown } from '../../src/protocol/messages/index.js';
import type { Message, MessageOf, KnownCommand } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { ipToString } from '../../src/protocol/address.js';

const FIX = new URL('../fixtures/bitcoind/', import.meta.url);

type Dir = 'to-server' | 'to-client';

interface Replay {
  messages: Message[];
  sizes: number[];
  violations: FramingViolation[];
  chunks: number;
  closed: boolean;
}

/** Replay one direction of a recording with the chunk boundaries the proxy saw. */
function replay(name: string, dir: Dir): Replay {
  const bytes = new Uint8Array(readFileSync(new URL(`p2p/${name}.${dir}.bin`, FIX)));
  const timeline = readFileSync(new URL(`p2p/${name}.timeline.jsonl`, FIX), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { dir: Dir; offset: number; len: number })
    .filter((c) => c.dir === dir);
  const decoder = new FrameDecoder({ network: NETWORKS.regtest, detectV2: dir === 'to-server' });
  const out: Replay = { messages: [], sizes: [], violations: [], chunks: 0, closed: false };
  let expectedOffset = 0;
  for (const c of timeline) {
    assert.equal(c.offset, expectedOffset, `${name} ${dir}: timeline is contiguous`);
    expectedOffset += c.len;
    out.chunks++;
    // A copy per chunk, as a socket would hand us fresh buffers.
    for (const item of decoder.push(bytes.slice(c.offset, c.offset + c.len))) {
      if (item.type === 'violation') out.violations.push(item.violation);
      else {
        out.messages.push(decodeMessage(item.frame.command, item.frame.payload));
        out.sizes.push(item.frame.payload.length);
      }
    }
  }
  assert.equal(expectedOffset, bytes.length, `${name} ${dir}: timeline covers the whole file`);
  out.closed = decoder.closed;
  return out;
}

const logCache = new Map<string, string[]>();
function logLines(log: string): string[] {
  let lines = logCache.get(log);
  if (!lines) {
    lines = readFileSync(new URL(`log/${log}`, FIX), 'utf8').split('\n');
    logCache.set(log, lines);
  }
  return lines;
}

/** `cmd:size` for every message Core logged as received from / sent to `peer`. */
function coreSequence(log: string, kind: 'received' | 'sending', peer: number): string[] {
  const re = kind === 'received' ? /\breceived: (\S+) \((\d+) bytes\) peer=(\d+)$/ : /\bsending (\S+) \((\d+) bytes\) peer=(\d+)$/;
  const out: string[] = [];
  for (const line of logLines(log)) {
    const m = re.exec(line);
    if (m && Number(m[3]) === peer) out.push(`${m[1]}:${m[2]}`);
  }
  return out;
}

function sequence(r: Replay): string[] {
  return r.messages.map((m, i) => `${m.command}:${r.sizes[i]}`);
}

function only<K extends KnownCommand>(r: Replay, command: K): MessageOf<K>[] {
  return r.messages.filter((m): m is MessageOf<K> => isKnown(m) && m.command === command);
}

// Which Core peer id each recording is: see test/fixtures/bitcoind/README.md.
const V1_STREAMS: { name: string; server: { log: string; peer: number }; client?: { log: string; peer: number } }[] = [
  { name: 'v1/conn0', server: { log: 'debug-a.log', peer: 13 }, client: { log: 'debug-b.log', peer: 0 } },
  { name: 'v1-attacks/addrflood', server: { log: 'debug-a.log', peer: 8 } },
  { name: 'v1-attacks/pingspam', server: { log: 'debug-a.log', peer: 9 } },
  { name: 'v1-attacks/invspam', server: { log: 'debug-a.log', peer: 11 } },
  { name: 'v1-attacks/honest', server: { log: 'debug-a.log', peer: 12 } },
];

describe('Bitcoin Core recordings', () => {
  for (const s of V1_STREAMS) {
    it(`${s.name}: both directions decode fully and match Core's log`, () => {
      const up = replay(s.name, 'to-server');
      const down = replay(s.name, 'to-client');
      assert.deepEqual(up.violations, []);
      assert.deepEqual(down.violations, []);
      assert.ok(up.messages.every(isKnown) && down.messages.every(isKnown), 'every command has a codec');
      // What the server (Core node a) logged as received from / sent to this peer.
      assert.deepEqual(sequence(up), coreSequence(s.server.log, 'received', s.server.peer));
      assert.deepEqual(sequence(down), coreSequence(s.server.log, 'sending', s.server.peer));
      if (s.client) {
        assert.deepEqual(sequence(up), coreSequence(s.client.log, 'sending', s.client.peer));
        assert.deepEqual(sequence(down), coreSequence(s.client.log, 'received', s.client.peer));
      }
      // Re-encoding every decoded payload gives the recorded bytes back.
      for (const r of [up, down]) {
        r.messages.forEach((m, i) => assert.equal(encodePayload(m).length, r.sizes[i], `${m.command} re-encodes to its size`));
      }
    });
  }

  it('v1/conn0: decoded values are right (user agents, chain of blocks, txids)', () => {
    const up = replay('v1/conn0', 'to-server');
    const down = replay('v1/conn0', 'to-client');
    const [vb] = only(up, 'version');
    const [va] = only(down, 'version');
    // Core logged "receive version message: /Satoshi:30.99.0/: version 70016, blocks=0, us=[::]:0" from b.
    assert.equal(vb!.payload.userAgent, '/Satoshi:30.99.0/');
    assert.equal(vb!.payload.version, 70016);
    assert.equal(vb!.payload.startHeight, 0);
    assert.equal(ipToString(vb!.payload.receiver.ip), '::');
    assert.equal(vb!.payload.receiver.port, 0);
    assert.equal(vb!.payload.relay, true);
    // a answered with its own version at height 110 ("send version message: ... blocks=110").
    assert.equal(va!.payload.startHeight, 110);
    assert.equal(va!.payload.userAgent, '/Satoshi:30.99.0/');

    // 110 blocks, each building on the previous one; the first builds on regtest genesis.
    const blocks = only(down, 'block').map((m) => m.payload);
    assert.equal(blocks.length, 110);
    assert.equal(hashToHex(blocks[0]!.header.prevBlock), '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206');
    for (let i = 1; i < blocks.length; i++) {
      assert.equal(hashToHex(blocks[i]!.header.prevBlock), hashToHex(blockHash(blocks[i - 1]!.header)), `block ${i} chains`);
    }
    // The headers message announces the same chain.
    const hdrs = only(down, 'headers').flatMap((m) => m.payload.headers);
    const blockHashes = new Set(blocks.map((b) => hashToHex(blockHash(b.header))));
    for (const h of hdrs) assert.ok(blockHashes.has(hashToHex(blockHash(h))));
    // getdata asked for exactly these blocks.
    const asked = only(up, 'getdata').flatMap((m) =>
      m.payload.items.filter((it) => (it.type & 0xff) === 2).map((it) => hashToHex(it.hash)),
    );
    for (const h of asked.slice(0, 110)) assert.ok(blockHashes.has(h));

    // Each tx relayed was announced by wtxid (inv type 5) and requested the same way.
    const invWtxids = new Set(
      only(down, 'inv').flatMap((m) => m.payload.items.filter((it) => it.type === 5).map((it) => hashToHex(it.hash))),
    );
    const txs = only(down, 'tx').map((m) => m.payload);
    assert.ok(txs.length > 0);
    for (const t of txs) assert.ok(invWtxids.has(hashToHex(wtxid(t))), 'tx wtxid was announced in inv');
    // A coinbase in every block: one input spending the null outpoint.
    for (const b of blocks) {
      const cb = b.txs[0]!;
      assert.equal(cb.inputs.length, 1);
      assert.ok(cb.inputs[0]!.prevTxid.every((x) => x === 0));
      assert.equal(cb.inputs[0]!.prevIndex, 0xffffffff);
    }
    // One-tx blocks: the merkle root is the coinbase txid.
    for (const b of blocks.filter((x) => x.txs.length === 1)) assert.equal(hashToHex(b.header.merkleRoot), hashToHex(txid(b.txs[0]!)));

    // Compact blocks: the blocktxn answers the getblocktxn for the cmpctblock's block.
    const cmpct = only(down, 'cmpctblock').map((m) => m.payload);
    assert.equal(cmpct.length, 2);
    const [gbt] = only(up, 'getblocktxn');
    const [btx] = only(down, 'blocktxn');
    assert.equal(hashToHex(gbt!.payload.blockHash), hashToHex(btx!.payload.blockHash));
    assert.ok(cmpct.some((c) => hashToHex(blockHash(c.header)) === hashToHex(gbt!.payload.blockHash)));
    assert.equal(btx!.payload.txs.length, gbt!.payload.indexes.length);
    for (const c of cmpct) assert.equal(c.prefilled[0]?.index, 0, 'the coinbase is prefilled');
  });

  it('addrflood: five addr messages of 1000 public IPv4 addresses', () => {
    const up = replay('v1-attacks/addrflood', 'to-server');
    const addrs = only(up, 'addr');
    assert.equal(addrs.length, 5);
    for (const a of addrs) {
      assert.equal(a.payload.entries.length, 1000);
      for (const e of a.payload.entries) assert.match(ipToString(e.ip), /^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('invspam: one inv with 50,000 tx hashes', () => {
    const up = replay('v1-attacks/invspam', 'to-server');
    const [inv] = only(up, 'inv');
    assert.equal(inv!.payload.items.length, 50_000);
    assert.ok(inv!.payload.items.every((it) => it.type === 1));
  });

  it('malformed: exactly the violations Core reported, foobar kept as unknown', () => {
    const up = replay('v1-attacks/malformed', 'to-server');
    // Core: "Header error: Wrong checksum (ping, 8 bytes), expected 8c820c80 was 73820c80, peer=10"
    //       "Header error: Size too large (addr, 2147483647 bytes), peer=10" → disconnect.
    assert.equal(up.violations.length, 2);
    const [bad, big] = up.violations;
    assert.equal(bad!.kind, 'bad-checksum');
    assert.equal(bad!.fatal, false);
    assert.equal(bad!.command, 'ping');
    assert.equal(bad!.length, 8);
    assert.match(bad!.detail, /expected 8c820c80 was 73820c80/);
    assert.equal(big!.kind, 'oversize');
    assert.equal(big!.fatal, true);
    assert.equal(big!.command, 'addr');
    assert.equal(big!.length, 2_147_483_647);
    assert.ok(up.closed);
    // Core's message handler processed the handshake; the queued foobar frame was dropped
    // with the connection before it got to it, so it is the one message Core did not log.
    const core = coreSequence('debug-a.log', 'received', 10);
    const seq = sequence(up);
    assert.deepEqual(seq.slice(0, core.length), core);
    assert.equal(seq.length, core.length + 1);
    const foobar = up.messages[core.length]!;
    assert.equal(foobar.command, 'foobar');
    assert.equal(isKnown(foobar), false);
    // The server side is the usual handshake and ends there.
    const down = replay('v1-attacks/malformed', 'to-client');
    assert.deepEqual(down.violations, []);
    assert.deepEqual(sequence(down), coreSequence('debug-a.log', 'sending', 10));
  });

  it('v2: the first bytes are reported as v2-transport, nothing is mis-parsed', () => {
    const up = replay('v2/conn0', 'to-server');
    assert.equal(up.messages.length, 0);
    assert.equal(up.violations.length, 1);
    assert.equal(up.violations[0]!.kind, 'v2-transport');
    assert.equal(up.violations[0]!.offset, 0);
    assert.ok(up.closed);
  });
});
