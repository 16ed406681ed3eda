/**
 * Fuzz the live listener over real TCP: mutated valid frames (bit flips,
 * truncation, length-field edits, command edits) and random openings, each on its
 * own connection. The observer must not crash or hang, must record every bad
 * frame as a typed violation (exactly the expected kinds where the mutation
 * determines them), and must still complete an honest handshake afterwards.
 *
 *   FUZZ_CASES=100000 FUZZ_SEED=7 node scripts/run-tests.mjs test/fuzz/listener.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { encodeFrame, HEADER_SIZE } from '../../src/protocol/framing.js';
import { encodeMessageFrame, isKnownCommand } from '../../src/protocol/messages/index.js';
import type { Message } from '../../src/protocol/messages/types.js';
import { VIOLATION_KINDS } from '../../src/events/schema.js';
import type { ViolationKind } from '../../src/events/types.js';
import { REGTEST, startTestObserver, TestPeer, until, versionMessage } from '../sources/p2p/helpers.js';

const CASES = Number(process.env['FUZZ_CASES'] ?? 300);
const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
const CONCURRENCY = 32;

const KINDS: ReadonlySet<string> = new Set<string>(VIOLATION_KINDS);

/** mulberry32: small, seeded, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const h = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const CORPUS: Message[] = [
  { command: 'ping', payload: { nonce: 123456789n } },
  { command: 'inv', payload: { items: [1, 2, 3].map((n) => ({ type: 1, hash: h(n) })) } },
  { command: 'getdata', payload: { items: [{ type: 5, hash: h(4) }] } },
  {
    command: 'addr',
    payload: {
      entries: [
        { time: 1_700_000_000, services: 9n, ip: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8]), port: 8333 },
      ],
    },
  },
  { command: 'getheaders', payload: { version: 70016, locator: [h(7), h(8)], stop: h(0) } },
  { command: 'feefilter', payload: { feeRate: 1000n } },
  { command: 'sendcmpct', payload: { announce: false, version: 2n } },
  { command: 'notfound', payload: { items: [{ type: 1, hash: h(9) }] } },
];
const PREFIX = new Uint8Array([
  ...encodeMessageFrame(REGTEST, versionMessage()),
  ...encodeMessageFrame(REGTEST, { command: 'verack', payload: {} }),
]);

interface Case {
  name: string;
  bytes: Uint8Array;
  /** The violation kinds this input must produce, or undefined when the mutation does not determine them. */
  expect: ViolationKind[] | undefined;
  unknown?: boolean;
}

function makeCase(rand: () => number): Case {
  const int = (n: number): number => Math.floor(rand() * n);
  const frame = encodeMessageFrame(REGTEST, CORPUS[int(CORPUS.length)]!);
  const withPrefix = (b: Uint8Array): Uint8Array => new Uint8Array([...PREFIX, ...b]);
  const flip = (b: Uint8Array, from: number, to: number): Uint8Array => {
    const out = b.slice();
    const at = from + int(to - from);
    out[at]! ^= 1 << int(8);
    return out;
  };
  switch (int(11)) {
    case 0:
      return { name: 'checksum-flip', bytes: withPrefix(flip(frame, 20, 24)), expect: ['bad-checksum'] };
    case 1:
      return { name: 'payload-flip', bytes: withPrefix(flip(frame, HEADER_SIZE, frame.length)), expect: ['bad-checksum'] };
    case 2:
      return { name: 'magic-flip', bytes: withPrefix(flip(frame, 0, 4)), expect: ['bad-magic'] };
    case 3: {
      const out = frame.slice();
      out[4 + int(4)] = rand() < 0.5 ? 1 + int(0x1f) : 0x7f + int(0x81);
      return { name: 'command-invalid', bytes: withPrefix(out), expect: ['invalid-command'] };
    }
    case 4: {
      let command: string;
      do command = Array.from({ length: 1 + int(12) }, () => String.fromCharCode(0x61 + int(26))).join('');
      while (isKnownCommand(command));
      const payload = frame.subarray(HEADER_SIZE);
      return { name: 'command-unknown', bytes: withPrefix(encodeFrame(REGTEST, command, payload)), expect: [], unknown: true };
    }
    case 5: {
      const out = frame.slice();
      new DataView(out.buffer).setUint32(16, 4_000_001 + int(2 ** 32 - 4_000_001), true);
      return { name: 'length-oversize', bytes: withPrefix(out), expect: ['oversize'] };
    }
    case 6: {
      const out = frame.slice();
      new DataView(out.buffer).setUint32(16, int(200), true);
      return { name: 'length-edit', bytes: withPrefix(out), expect: undefined };
    }
    case 7:
      // Cut inside the frame: the rest never comes, nothing is judged.
      return { name: 'truncate', bytes: withPrefix(frame.subarray(0, int(frame.length))), expect: [] };
    case 8: {
      const bytes = new Uint8Array(1 + int(200)).map(() => int(256));
      if (bytes.length < 4) return { name: 'random-short', bytes, expect: [] };
      // v2 is on (the default): an opening that is not our magic + "version" is a BIP324
      // handshake, as in Core's V2Transport; random bytes then wait for a garbage
      // terminator that never comes (up to 4095 bytes): nothing is judged yet.
      const v1Start = new DataView(bytes.buffer).getUint32(0, false) === REGTEST.magic;
      const expect: ViolationKind[] | undefined = v1Start ? undefined : [];
      return { name: 'random-opening', bytes, expect };
    }
    case 9: {
      // Payload changed and the checksum recomputed: it reaches the payload decoders.
      const cmd = CORPUS[int(CORPUS.length)]!;
      let payload: Uint8Array = encodeMessageFrame(REGTEST, cmd).subarray(HEADER_SIZE).slice();
      const r = int(3);
      if (r === 0 && payload.length > 0) payload = flip(payload, 0, payload.length);
      else if (r === 1) payload = payload.subarray(0, int(payload.length + 1));
      else payload = new Uint8Array([...payload, ...Array.from({ length: 1 + int(8) }, () => int(256))]);
      return { name: 'payload-reframed', bytes: withPrefix(encodeFrame(REGTEST, cmd.command, payload)), expect: undefined };
    }
    default: {
      // Any bit anywhere in the frame: typed, but which type depends on where it lands.
      const out = flip(frame, 0, frame.length);
      return { name: 'bitflip-any', bytes: withPrefix(out), expect: undefined };
    }
  }
}

async function runCase(port: number, c: Case): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const remote = `${socket.localAddress}:${socket.localPort}`;
  socket.end(c.bytes);
  return remote;
}

test(`fuzz the live listener: ${CASES} cases (seed ${SEED})`, { timeout: 120_000 }, async (t) => {
  const o = await startTestObserver({
    limits: {
      maxPerIp: 1_000_000,
      maxPerNetgroup: 1_000_000,
      maxPendingHandshakes: 1_000_000,
      maxConnections: 100_000,
      handshakeTimeoutMs: 5_000,
    },
  });
  t.after(() => o.stop());
  const rand = prng(SEED);
  const cases = Array.from({ length: CASES }, () => makeCase(rand));
  const byRemote = new Map<string, Case>();
  for (let i = 0; i < cases.length; i += CONCURRENCY) {
    const wave = cases.slice(i, i + CONCURRENCY);
    const remotes = await Promise.all(wave.map((c) => runCase(o.port, c)));
    remotes.forEach((r, j) => byRemote.set(r, wave[j]!));
  }
  await until(
    () => o.log.of('connection.closed', (e) => byRemote.has(e.data.conn.remote)).length === cases.length,
    60_000,
    'every fuzz connection to close',
  );

  const kindsOf = new Map<string, string[]>();
  for (const v of o.log.of('violation')) {
    assert.ok(KINDS.has(v.data.kind), `typed violation kind ${v.data.kind}`);
    const list = kindsOf.get(v.data.conn.remote) ?? [];
    list.push(v.data.kind);
    kindsOf.set(v.data.conn.remote, list);
  }
  let determined = 0;
  const expectedTotals = new Map<string, number>();
  for (const [remote, c] of byRemote) {
    if (!c.expect) continue;
    determined++;
    assert.deepEqual(kindsOf.get(remote) ?? [], c.expect, `${c.name} on ${remote}`);
    for (const k of c.expect) expectedTotals.set(k, (expectedTotals.get(k) ?? 0) + 1);
  }
  // The observer's own counters agree with the events and with what we injected.
  const stats = o.observer.stats();
  assert.equal(stats.violations, o.log.of('violation').length);
  for (const kind of KINDS) {
    const fromUndetermined = [...byRemote]
      .filter(([, c]) => !c.expect)
      .reduce((n, [r]) => n + (kindsOf.get(r) ?? []).filter((k) => k === kind).length, 0);
    assert.equal(stats.violationsByKind[kind] ?? 0, (expectedTotals.get(kind) ?? 0) + fromUndetermined, `count of ${kind}`);
  }
  const unknownEvents = o.log.of('message', (e) => !e.data.known);
  for (const [remote, c] of byRemote) {
    if (c.unknown) assert.equal(unknownEvents.filter((e) => e.data.conn.remote === remote).length, 1, `unknown command kept for ${remote}`);
  }
  assert.equal(stats.unknownCommands, unknownEvents.length);
  assert.ok(determined > CASES / 2, `${determined} of ${CASES} cases determined`);
  t.diagnostic(`seed ${SEED}: ${determined} determined cases, violations ${JSON.stringify(stats.violationsByKind)}`);

  // Still healthy: a fresh honest peer completes the handshake.
  const peer = await TestPeer.connect(o.port);
  t.after(() => peer.close());
  await peer.handshake();
  await peer.waitFor('ping');
});
