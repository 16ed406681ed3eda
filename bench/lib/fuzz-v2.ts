/**
 * The BIP324 v2 transport fuzzer, shared by bench/fuzz.ts (1,000,000 cases) and
 * test/fuzz/v2.test.ts (a quick run in CI). Each case takes a valid initiator
 * stream (key, garbage, terminator, decoys, version packet, messages from the
 * codec corpus with decoys between), mutates it or makes random bytes, and
 * pushes it with random chunking into a fresh responder V2Transport. Checks:
 *
 * - push never throws;
 * - authenticity: every frame that comes out is the template's frame at that
 *   position (a splice may give the other template's, which shares the keys);
 *   no mutated byte ever turns into a message;
 * - an unmutated stream gives every frame, in order, and ends with nothing pending;
 * - after a fatal violation nothing more comes out;
 * - memory: pending <= 64 + 4111 + 3 + 1 + maxContents + 16, allocated <= max(2 x
 *   bytes received, 4096) + the 4111-byte garbage buffer;
 * - a `v1` item only when the first 16 bytes are our magic + "version";
 * - chunking does not matter (whole-input decoding gives the same items), on one case in 8.
 *
 * The responder's and initiator's keys are fixed and the ECDH memoised, so a
 * case costs cipher work, not a scalar multiplication (a mutated key still
 * costs one: those cases are kept to about 2 %).
 */
import { FrameDecoder } from '../../src/protocol/framing.js';
import { NETWORKS, type Network } from '../../src/protocol/networks.js';
import { ellswiftCreate, v2Ecdh, type EllSwiftKey } from '../../src/protocol/v2/ellswift.js';
import { MAX_GARBAGE_LEN, V2Transport, type V2Item } from '../../src/protocol/v2/transport.js';
import { encodeFrames, everyCommandMessages, generatedFrames, type CorpusFrame } from './corpus.js';
import { Rng } from './rng.js';

const ALLOCATION_FLOOR = 4096;

export interface V2FuzzFailure {
  case: number;
  invariant: string;
  detail: string;
  inputHex: string;
}

export interface V2FuzzResult {
  cases: number;
  seconds: number;
  bytes: number;
  /** Per item: 'frame', 'handshake', 'v1', 'violation:<kind>'. */
  outcomes: Record<string, number>;
  /** The responder's state at the end of each case. */
  endings: Record<string, number>;
  mutations: Record<string, number>;
  decoysIn: number;
  ecdhComputed: number;
  maxPending: number;
  slowestCaseMs: number;
  failureCount: number;
  failuresByKind: Record<string, number>;
  failures: V2FuzzFailure[];
}

export interface V2FuzzOptions {
  seed: number;
  cases: number;
  network?: Network;
  maxFailures?: number;
  onProgress?: (done: number, result: V2FuzzResult) => void;
  progressEvery?: number;
}

interface Template {
  stream: Uint8Array;
  /** Where the packets start (after key, garbage and terminator). */
  packetsAt: number;
  garbageLength: number;
  frames: string[];
}

function frameKey(command: string, payload: Uint8Array): string {
  return `${command}:${Buffer.from(payload).toString('hex')}`;
}

function memoEcdh(): { ecdh: typeof v2Ecdh; computed: () => number } {
  const cache = new Map<string, Uint8Array>();
  let computed = 0;
  return {
    ecdh: (priv, theirs, ours, initiating) => {
      const k = `${Buffer.from(theirs).toString('hex')}${initiating ? 'i' : 'r'}`;
      let v = cache.get(k);
      if (!v) {
        computed++;
        v = v2Ecdh(priv, theirs, ours, initiating);
        if (cache.size > 256) cache.clear();
        cache.set(k, v);
      }
      return v;
    },
    computed: () => computed,
  };
}

function buildTemplate(
  rng: Rng,
  network: Network,
  iKey: EllSwiftKey,
  rKey: EllSwiftKey,
  corpus: CorpusFrame[],
  ecdh: typeof v2Ecdh,
): Template {
  const pick = rng.int(5);
  const garbageLength = pick === 0 ? 0 : pick === 1 ? MAX_GARBAGE_LEN : pick === 2 ? 1 : rng.int(300);
  const garbage = rng.bytes(garbageLength);
  const decoys = Array.from({ length: rng.int(3) }, () => rng.int(40));
  const i = new V2Transport({ network, initiating: true, key: iKey, garbage, decoys, ecdh });
  const parts: Uint8Array[] = [i.start()];
  const reply = i.push(rKey.ellswift);
  for (const item of reply) if (item.type === 'send') parts.push(item.bytes);
  const frames: string[] = [];
  const n = 1 + rng.int(8);
  for (let k = 0; k < n; k++) {
    const f = corpus[rng.int(corpus.length)]!;
    if (rng.int(4) === 0) parts.push(i.encodeDecoy(rng.int(64)));
    parts.push(i.encodeMessage(f.command, f.payload)!);
    frames.push(frameKey(f.command, f.payload));
  }
  const stream = Buffer.concat(parts);
  return { stream: new Uint8Array(stream), packetsAt: 64 + garbageLength + 16, garbageLength, frames };
}

type Mutation =
  | 'none'
  | 'bit-flip'
  | 'key-bit-flip'
  | 'insert'
  | 'delete'
  | 'truncate'
  | 'splice'
  | 'replay-packet'
  | 'garbage-overflow'
  | 'v1-prefix'
  | 'v1-after-v2'
  | 'random-short'
  | 'random-long';

export function runFuzzV2(o: V2FuzzOptions): V2FuzzResult {
  const network = o.network ?? NETWORKS.regtest;
  const rng = new Rng(o.seed);
  const maxFailures = o.maxFailures ?? 20;
  const { ecdh, computed } = memoEcdh();
  const iKey = ellswiftCreate();
  const rKey = ellswiftCreate();
  const corpus = [
    ...encodeFrames(everyCommandMessages(o.seed), network),
    ...generatedFrames(o.seed, { tx: 200, inv: 200, addr: 20, addrv2: 20, headers: 5, ping: 100 }, network),
  ].filter((f) => f.payload.length <= 20_000);
  const templates = Array.from({ length: 32 }, () => buildTemplate(rng, network, iKey, rKey, corpus, ecdh));
  const magic = new Uint8Array(4);
  new DataView(magic.buffer).setUint32(0, network.magic, false);
  const v1Prefix = new Uint8Array(16);
  v1Prefix.set(magic);
  v1Prefix.set(new TextEncoder().encode('version'), 4);
  const maxPending = 64 + MAX_GARBAGE_LEN + 16 + 3 + 1 + 13 + 4_000_000 + 16;

  const r: V2FuzzResult = {
    cases: 0,
    seconds: 0,
    bytes: 0,
    outcomes: {},
    endings: {},
    mutations: {},
    decoysIn: 0,
    ecdhComputed: 0,
    maxPending: 0,
    slowestCaseMs: 0,
    failureCount: 0,
    failuresByKind: {},
    failures: [],
  };
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const fail = (c: number, invariant: string, detail: string, input: Uint8Array) => {
    r.failureCount++;
    bump(r.failuresByKind, invariant);
    if (r.failures.length < maxFailures) r.failures.push({ case: c, invariant, detail, inputHex: Buffer.from(input).toString('hex') });
  };

  const started = performance.now();
  for (let c = 0; c < o.cases; c++) {
    const t0 = performance.now();
    const a = templates[rng.int(templates.length)]!;
    let b: Template | undefined;
    let input: Uint8Array;
    let mutation: Mutation;
    const roll = rng.int(100);
    const s = a.stream;
    const afterKey = (): number => 64 + rng.int(s.length - 64);
    if (roll < 8) {
      mutation = 'none';
      input = s;
    } else if (roll < 30) {
      mutation = 'bit-flip';
      input = s.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const at = afterKey();
        input[at]! ^= 1 << rng.int(8);
      }
    } else if (roll < 31) {
      mutation = 'key-bit-flip';
      input = s.slice();
      input[16 + rng.int(48)]! ^= 1 << rng.int(8);
    } else if (roll < 40) {
      mutation = 'insert';
      const at = afterKey();
      input = Buffer.concat([s.subarray(0, at), rng.bytes(1 + rng.int(4)), s.subarray(at)]);
    } else if (roll < 49) {
      mutation = 'delete';
      const at = afterKey();
      input = Buffer.concat([s.subarray(0, at), s.subarray(Math.min(s.length, at + 1 + rng.int(4)))]);
    } else if (roll < 60) {
      mutation = 'truncate';
      input = s.subarray(0, rng.int(s.length));
    } else if (roll < 68) {
      mutation = 'splice';
      b = templates[rng.int(templates.length)]!;
      const at = rng.int(Math.min(s.length, b.stream.length));
      input = Buffer.concat([s.subarray(0, at), b.stream.subarray(at)]);
    } else if (roll < 74) {
      mutation = 'replay-packet';
      const at = a.packetsAt + rng.int(s.length - a.packetsAt);
      input = Buffer.concat([s, s.subarray(a.packetsAt, at)]);
    } else if (roll < 80) {
      mutation = 'garbage-overflow';
      input = Buffer.concat([s.subarray(0, 64), rng.bytes(MAX_GARBAGE_LEN + 16 - rng.int(20)), s.subarray(64)]);
    } else if (roll < 84) {
      mutation = 'v1-prefix';
      input = Buffer.concat([v1Prefix.subarray(0, 4 + rng.int(13)), rng.bytes(rng.int(200))]);
    } else if (roll < 90) {
      mutation = 'v1-after-v2';
      const cut = a.packetsAt + rng.int(s.length - a.packetsAt + 1);
      input = Buffer.concat([s.subarray(0, cut), magic, rng.bytes(20 + rng.int(40))]);
    } else if (roll < 99) {
      mutation = 'random-short';
      input = rng.bytes(rng.int(64));
      if (rng.int(3) === 0 && input.length >= 4) input.set(magic.subarray(0, Math.min(4, input.length)));
    } else {
      mutation = 'random-long';
      input = rng.bytes(64 + rng.int(5000));
    }
    bump(r.mutations, mutation);
    r.bytes += input.length;

    const t = new V2Transport({ network, initiating: false, key: rKey, garbage: new Uint8Array(0), ecdh });
    const items: V2Item[] = [];
    let received = 0;
    let threw = false;
    try {
      for (let at = 0; at < input.length;) {
        const n = rng.int(4) === 0 ? 1 + rng.int(8) : 1 + rng.int(2000);
        const chunk = input.subarray(at, at + n);
        at += n;
        received += chunk.length;
        if (t.state === 'v1') break;
        const got = t.push(chunk);
        if (t.closed && got.length > 0 && items.some((i) => i.type === 'violation' && i.violation.fatal)) {
          fail(c, 'items-after-fatal', `${got.length} items after a fatal violation`, input);
        }
        items.push(...got);
        r.maxPending = Math.max(r.maxPending, t.pending);
        if (t.pending > maxPending) fail(c, 'pending-bound', `${t.pending} pending`, input);
        if (t.allocated > Math.max(2 * received, ALLOCATION_FLOOR) + MAX_GARBAGE_LEN + 16) {
          fail(c, 'allocation-bound', `${t.allocated} allocated after ${received} bytes`, input);
        }
      }
    } catch (error) {
      threw = true;
      fail(c, 'push-threw', String(error), input);
    }
    if (!threw) {
      const frames = items.flatMap((i) => (i.type === 'frame' ? [frameKey(i.frame.command, i.frame.payload)] : []));
      frames.forEach((f, k) => {
        if (f !== a.frames[k] && !(b && f === b.frames[k]))
          fail(c, 'forged-frame', `frame ${k} ${f.slice(0, 80)} not in the template`, input);
      });
      if (mutation === 'none') {
        if (frames.length !== a.frames.length || t.pending !== 0)
          fail(c, 'lost-frames', `${frames.length}/${a.frames.length} frames, ${t.pending} pending`, input);
      }
      const v1 = items.some((i) => i.type === 'v1');
      let prefix = input.length >= 16;
      for (let k = 0; k < 16 && prefix; k++) if (input[k] !== v1Prefix[k]) prefix = false;
      if (v1 !== prefix) fail(c, 'v1-detection', `v1 item ${v1}, v1 prefix ${prefix}`, input);
      if (v1) {
        // The handed-back bytes go to a v1 decoder, as the node does.
        new FrameDecoder({ network }).push(items.find((i) => i.type === 'v1')!.bytes);
      }
      if (rng.int(8) === 0) {
        const whole = new V2Transport({ network, initiating: false, key: rKey, garbage: new Uint8Array(0), ecdh });
        const again = whole.push(input).filter((i) => i.type !== 'send');
        const mine = items.filter((i) => i.type !== 'send');
        const sig = (xs: V2Item[]) =>
          xs
            .map((i) =>
              i.type === 'frame' ? frameKey(i.frame.command, i.frame.payload) : i.type === 'violation' ? i.violation.kind : i.type,
            )
            .join('|');
        // A v1 stream stops being pushed at the v1 item in the chunked run: compare up to it.
        if (!v1 && sig(again) !== sig(mine)) fail(c, 'chunking', `${sig(mine).slice(0, 200)} vs ${sig(again).slice(0, 200)}`, input);
      }
      for (const i of items) {
        if (i.type === 'send') continue;
        bump(r.outcomes, i.type === 'violation' ? `violation:${i.violation.kind}` : i.type);
      }
      bump(r.endings, t.state);
      r.decoysIn += t.decoysIn;
    }
    r.cases++;
    r.slowestCaseMs = Math.max(r.slowestCaseMs, performance.now() - t0);
    if (o.onProgress && o.progressEvery && r.cases % o.progressEvery === 0) {
      r.seconds = (performance.now() - started) / 1000;
      r.ecdhComputed = computed();
      o.onProgress(r.cases, r);
    }
  }
  r.seconds = (performance.now() - started) / 1000;
  r.ecdhComputed = computed();
  return r;
}
