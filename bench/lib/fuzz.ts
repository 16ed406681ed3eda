/**
 * The decoder fuzzer shared by bench/fuzz.ts (1,000,000 cases) and
 * test/fuzz/decoder.test.ts (a quick run in CI). Each case mutates one or more
 * valid frames (or makes random bytes), feeds them with random chunking to
 * FrameDecoder + decodeMessage, and checks:
 *
 * - FrameDecoder.push never throws;
 * - decodeMessage throws nothing but DecodeError;
 * - while pending: pending <= 24 + maxLength and allocated <= max(2 x bytes
 *   received, ALLOCATION_FLOOR);
 * - nothing is lost: until a fatal violation, the bytes of frames + non-fatal
 *   violations + pending add up to the bytes pushed;
 * - chunking does not matter: the same input pushed whole gives the same items;
 * - strict codec: every decoded known message re-encodes to exactly its payload,
 *   and an unknown one keeps its payload as is.
 */
import { createHash } from 'node:crypto';
import { DecodeError } from '../../src/protocol/codec.js';
import { FrameDecoder, HEADER_SIZE, type DecodedItem } from '../../src/protocol/framing.js';
import { decodeMessage, encodePayload, isKnown } from '../../src/protocol/messages/index.js';
import { MAX_PROTOCOL_MESSAGE_LENGTH } from '../../src/protocol/limits.js';
import { NETWORKS, type Network } from '../../src/protocol/networks.js';
import { concat, encodeFrames, everyCommandMessages, fixtureFrames, generatedFrames, type CorpusFrame } from './corpus.js';
import { Rng } from './rng.js';

/**
 * FrameDecoder grows a partial payload buffer to at least 4096 bytes (capped by
 * the header's length), so a peer that sends a header and one byte costs 4 KiB:
 * bounded per peer, but more than twice what it sent. The invariant allows that
 * floor; `strictAllocationExceeded` counts how often it was used.
 */
export const ALLOCATION_FLOOR = 4096;

/** Seed frames larger than this are left out (the 1.8 MB inv would dominate the run). */
const MAX_SEED_FRAME = 40_000;

export interface FuzzFailure {
  case: number;
  invariant: string;
  detail: string;
  /** The whole input, hex. */
  inputHex: string;
  /** The payload concerned, hex, where there is one. */
  payloadHex?: string;
  command?: string;
}

export interface FuzzResult {
  cases: number;
  seconds: number;
  bytes: number;
  /** Per frame or violation: 'decoded', 'unknown-command', 'decode:<DecodeError code>', 'framing:<violation kind>'. */
  outcomes: Record<string, number>;
  /** Per case: how the stream ended ('clean', 'pending', 'closed'). */
  endings: Record<string, number>;
  /** Which mutation made each case. */
  mutations: Record<string, number>;
  /** Decoded known commands, to show every codec was reached. */
  decodedCommands: Record<string, number>;
  strictAllocationExceeded: number;
  maxPending: number;
  slowestCaseMs: number;
  /** Every invariant break, counted; the first `maxFailures` are kept in `failures`. */
  failureCount: number;
  /** Failures counted by invariant and command. */
  failuresByKind: Record<string, number>;
  failures: FuzzFailure[];
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  network?: Network;
  /** Stop collecting failures after this many (the run goes on and counts them). */
  maxFailures?: number;
  /** Called every `progressEvery` cases. */
  onProgress?: (done: number, result: FuzzResult) => void;
  progressEvery?: number;
}

export const KNOWN_COMMANDS_FOR_FUZZ = [
  'version', 'verack', 'ping', 'pong', 'getaddr', 'addr', 'addrv2', 'sendaddrv2', 'inv', 'getdata', 'notfound', 'getheaders',
  'getblocks', 'headers', 'sendheaders', 'block', 'tx', 'mempool', 'feefilter', 'sendcmpct', 'cmpctblock', 'getblocktxn',
  'blocktxn', 'wtxidrelay', 'filterload', 'filteradd', 'filterclear', 'merkleblock', 'getcfilters', 'cfilter', 'getcfheaders',
  'cfheaders', 'getcfcheckpt', 'cfcheckpt', 'reject',
]; // prettier-ignore

/** CompactSize encodings worth trying in count and length fields: limits ±1, non-minimal forms, huge values. */
const INTERESTING_COUNTS: readonly number[][] = [
  [0x00],
  [0x01],
  [0xfc],
  [0xfd, 0xfd, 0x00],
  [0xfd, 0x01, 0x00], // non-minimal 1
  [0xfd, 0xe8, 0x03], // 1000
  [0xfd, 0xe9, 0x03], // 1001
  [0xfd, 0xd0, 0x07], // 2000
  [0xfd, 0xd1, 0x07], // 2001
  [0xfd, 0xff, 0xff],
  [0xfe, 0x50, 0xc3, 0x00, 0x00], // 50,000 (non-minimal)
  [0xfe, 0x00, 0x00, 0x01, 0x00], // 65,536
  [0xfe, 0x51, 0xc3, 0x00, 0x00], // 50,001 (non-minimal)
  [0xfe, 0xff, 0xff, 0xff, 0xff],
  [0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // non-minimal 1
];

const INTERESTING_LENGTHS = [
  0,
  1,
  23,
  24,
  25,
  0xfc,
  0xfd,
  1000,
  4095,
  4096,
  4097,
  MAX_PROTOCOL_MESSAGE_LENGTH,
  MAX_PROTOCOL_MESSAGE_LENGTH + 1,
  0x7fffffff,
  0xffffffff,
];

function sha256d4(payload: Uint8Array): Uint8Array {
  return createHash('sha256').update(createHash('sha256').update(payload).digest()).digest().subarray(0, 4);
}

/** A frame we can edit field by field. */
interface Parts {
  head: Uint8Array; // 24 bytes
  payload: Uint8Array;
}

function split(wire: Uint8Array): Parts {
  return { head: wire.slice(0, HEADER_SIZE), payload: wire.slice(HEADER_SIZE) };
}

function join({ head, payload }: Parts, fix: { length: boolean; checksum: boolean }): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  out.set(head);
  const view = new DataView(out.buffer);
  if (fix.length) view.setUint32(16, payload.length, true);
  if (fix.checksum) out.set(sha256d4(payload), 20);
  out.set(payload, HEADER_SIZE);
  return out;
}

function setCommand(head: Uint8Array, command: Uint8Array): void {
  head.fill(0, 4, 16);
  head.set(command.subarray(0, 12), 4);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Mutate the payload of one frame; most mutations keep length and checksum right so the payload codec is reached. */
function mutatePayload(rng: Rng, p: Parts): string {
  const payload = p.payload;
  const kind = rng.int(6);
  switch (kind) {
    case 0: {
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips && payload.length > 0; i++) payload[rng.int(payload.length)]! ^= 1 << rng.int(8);
      return 'bit-flip';
    }
    case 1: {
      const at = rng.int(payload.length + 1);
      const ins = rng.bytes(rng.range(1, 16));
      p.payload = concat([payload.subarray(0, at), ins, payload.subarray(at)]);
      return 'byte-insert';
    }
    case 2: {
      if (payload.length === 0) return 'byte-delete';
      const at = rng.int(payload.length);
      const n = rng.range(1, Math.min(16, payload.length - at));
      p.payload = concat([payload.subarray(0, at), payload.subarray(at + n)]);
      return 'byte-delete';
    }
    case 3: {
      p.payload = payload.subarray(0, rng.int(payload.length + 1));
      return 'payload-truncate';
    }
    case 4: {
      // A count or length field: most counts are at offset 0 (inv, addr, headers...) or 4 (getheaders locator).
      const at = rng.chance(0.4) ? 0 : rng.chance(0.2) ? Math.min(4, payload.length) : rng.int(payload.length + 1);
      const count = Uint8Array.from(rng.pick(INTERESTING_COUNTS));
      const replace = rng.chance(0.7);
      const end = replace ? Math.min(payload.length, at + rng.range(1, 9)) : at;
      p.payload = concat([payload.subarray(0, at), count, payload.subarray(end)]);
      return 'count-field';
    }
    default: {
      // Random bytes of the same or a random length under a valid header.
      p.payload = rng.bytes(rng.chance(0.5) ? payload.length : rng.smallLength(2000));
      return 'random-payload';
    }
  }
}

function mutateHeader(rng: Rng, p: Parts, maxLength: number): string {
  const view = new DataView(p.head.buffer, p.head.byteOffset, HEADER_SIZE);
  switch (rng.int(4)) {
    case 0: {
      const choice = rng.int(3);
      const length =
        choice === 0 ? rng.pick(INTERESTING_LENGTHS) : choice === 1 ? p.payload.length + rng.range(-3, 3) : maxLength + rng.range(-1, 1);
      view.setUint32(16, Math.max(0, Math.min(0xffffffff, length)), true);
      return 'length-field';
    }
    case 1: {
      const c = rng.int(5);
      if (c === 0) setCommand(p.head, ascii(rng.pick(KNOWN_COMMANDS_FOR_FUZZ)));
      else if (c === 1) setCommand(p.head, ascii('foo' + rng.int(1000)));
      else if (c === 2) p.head.set(rng.bytes(12), 4);
      else if (c === 3)
        p.head[4 + rng.int(12)] = rng.int(256); // one byte: non-printable, missing NUL, text after NUL
      else setCommand(p.head, ascii('x'.repeat(12)));
      return 'command';
    }
    case 2: {
      const i = rng.int(4);
      p.head[i] = p.head[i]! ^ (1 << rng.int(8));
      return 'magic';
    }
    default: {
      const i = 20 + rng.int(4);
      p.head[i] = p.head[i]! ^ (1 << rng.int(8));
      return 'checksum';
    }
  }
}

interface Case {
  input: Uint8Array;
  mutation: string;
  detectV2: boolean;
  maxLength: number;
}

export class FuzzCaseMaker {
  readonly seeds: CorpusFrame[];

  constructor(
    private readonly rng: Rng,
    network: Network,
  ) {
    const fromFixtures = fixtureFrames(network).filter((f) => f.wire.length <= MAX_SEED_FRAME);
    const generated = generatedFrames(0xf022, { tx: 60, inv: 60, addr: 20, addrv2: 20, headers: 8, ping: 20 }, network).filter(
      (f) => f.wire.length <= MAX_SEED_FRAME,
    );
    this.seeds = [...fromFixtures, ...generated, ...encodeFrames(everyCommandMessages(0xf023), network)];
  }

  private seed(): Uint8Array {
    return this.rng.pick(this.seeds).wire;
  }

  next(): Case {
    const rng = this.rng;
    const detectV2 = rng.chance(0.3);
    const maxLength = rng.chance(0.1) ? rng.pick([0, 100, 1000, 30_000]) : MAX_PROTOCOL_MESSAGE_LENGTH;
    const r = rng.int(100);
    let input: Uint8Array;
    let mutation: string;
    if (r < 55) {
      // One frame, payload mutated; length and checksum usually fixed up so the codec is reached.
      const p = split(this.seed());
      mutation = mutatePayload(rng, p);
      input = join(p, { length: rng.chance(0.9), checksum: rng.chance(0.9) });
    } else if (r < 70) {
      const p = split(this.seed());
      mutation = mutateHeader(rng, p, maxLength);
      input = join(p, { length: false, checksum: mutation === 'command' && rng.chance(0.5) });
    } else if (r < 78) {
      // Splice: the head of one frame's payload with the tail of another's, under either header.
      const a = split(this.seed());
      const b = split(this.seed());
      const cut = concat([a.payload.subarray(0, rng.int(a.payload.length + 1)), b.payload.subarray(rng.int(b.payload.length + 1))]);
      input = join({ head: rng.chance(0.5) ? a.head : b.head, payload: cut }, { length: rng.chance(0.8), checksum: rng.chance(0.8) });
      mutation = 'splice';
    } else if (r < 86) {
      // A few valid frames, then truncate the stream anywhere, or splice two streams at random points.
      const frames = Array.from({ length: rng.range(1, 4) }, () => this.seed());
      const stream = concat(frames);
      if (rng.chance(0.5)) {
        input = stream.subarray(0, rng.int(stream.length + 1));
        mutation = 'truncate';
      } else {
        const other = concat([this.seed(), this.seed()]);
        input = concat([stream.subarray(0, rng.int(stream.length + 1)), other.subarray(rng.int(other.length + 1))]);
        mutation = 'stream-splice';
      }
    } else if (r < 92) {
      // A valid frame followed by a mutated one: the decoder must deliver the first whatever follows.
      const p = split(this.seed());
      mutation = 'then-' + mutatePayload(rng, p);
      input = concat([this.seed(), join(p, { length: rng.chance(0.7), checksum: rng.chance(0.7) })]);
    } else {
      // Random bytes: with our magic in front half the time, so the header parser is reached.
      const n = rng.smallLength(300);
      input = rng.bytes(n);
      if (rng.chance(0.5) && n >= 4) this.seeds[0]!.wire.subarray(0, 4).forEach((b, i) => (input[i] = b));
      mutation = 'random-bytes';
    }
    return { input, mutation, detectV2, maxLength };
  }
}

/** A short signature of decoder output, to compare chunked and whole-input runs. */
function signature(items: readonly DecodedItem[]): string {
  return items
    .map((i) => (i.type === 'frame' ? `F${i.frame.command}/${i.frame.wireSize}` : `V${i.violation.kind}@${i.violation.offset}`))
    .join(',');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

export function runFuzz(o: FuzzOptions): FuzzResult {
  const network = o.network ?? NETWORKS.regtest;
  const rng = new Rng(o.seed);
  const maker = new FuzzCaseMaker(rng, network);
  const maxFailures = o.maxFailures ?? 20;
  const result: FuzzResult = {
    cases: 0,
    seconds: 0,
    bytes: 0,
    outcomes: {},
    endings: {},
    mutations: {},
    decodedCommands: {},
    strictAllocationExceeded: 0,
    maxPending: 0,
    slowestCaseMs: 0,
    failureCount: 0,
    failuresByKind: {},
    failures: [],
  };
  const t0 = process.hrtime.bigint();

  for (let n = 0; n < o.cases; n++) {
    const c = maker.next();
    const tCase = process.hrtime.bigint();
    const fail = (invariant: string, detail: string, extra: Partial<FuzzFailure> = {}) => {
      result.failureCount++;
      bump(result.failuresByKind, extra.command !== undefined ? `${invariant} (${extra.command})` : invariant);
      if (result.failures.length < maxFailures) result.failures.push({ case: n, invariant, detail, inputHex: hex(c.input), ...extra });
    };
    bump(result.mutations, c.mutation);
    result.bytes += c.input.length;

    // Random chunking, with 1-byte chunks now and then.
    const decoder = new FrameDecoder({ network, detectV2: c.detectV2, maxMessageLength: c.maxLength });
    const items: DecodedItem[] = [];
    let received = 0;
    let accounted = 0;
    let threw = false;
    for (let at = 0; at < c.input.length;) {
      const size = rng.chance(0.2) ? 1 : rng.range(1, Math.max(1, Math.min(c.input.length - at, rng.pick([8, 30, 200, 5000]))));
      const piece = c.input.subarray(at, at + size);
      at += piece.length;
      received += piece.length;
      let out: DecodedItem[];
      try {
        out = decoder.push(piece);
      } catch (e) {
        fail('FrameDecoder.push threw', String(e instanceof Error ? (e.stack ?? e.message) : e));
        threw = true;
        break;
      }
      for (const item of out) {
        items.push(item);
        if (item.type === 'frame') accounted += item.frame.wireSize;
        else if (!item.violation.fatal) accounted += HEADER_SIZE + (item.violation.length ?? 0);
      }
      const pending = decoder.pending;
      if (pending > result.maxPending) result.maxPending = pending;
      if (pending > HEADER_SIZE + c.maxLength) fail('pending bound', `pending ${pending} > 24 + maxLength ${c.maxLength}`);
      const allocated = decoder.allocated;
      if (allocated > 2 * received) {
        result.strictAllocationExceeded++;
        if (allocated > Math.max(2 * received, ALLOCATION_FLOOR)) {
          fail('allocation bound', `allocated ${allocated} after receiving ${received} bytes`);
        }
      }
      if (!decoder.closed && accounted + pending !== received) {
        fail('byte accounting', `frames+violations ${accounted} + pending ${pending} != received ${received}`);
      }
    }
    if (threw) continue;
    bump(result.endings, decoder.closed ? 'closed' : decoder.pending > 0 ? 'pending' : 'clean');

    // Chunking must not matter.
    try {
      const whole = new FrameDecoder({ network, detectV2: c.detectV2, maxMessageLength: c.maxLength }).push(c.input);
      const a = signature(items);
      const b = signature(whole);
      if (a !== b) fail('chunking changes the result', `chunked: ${a.slice(0, 300)} | whole: ${b.slice(0, 300)}`);
    } catch (e) {
      fail('FrameDecoder.push threw (whole input)', String(e));
    }

    for (const item of items) {
      if (item.type === 'violation') {
        bump(result.outcomes, `framing:${item.violation.kind}`);
        continue;
      }
      const { command, payload } = item.frame;
      let m;
      try {
        m = decodeMessage(command, payload);
      } catch (e) {
        if (e instanceof DecodeError) {
          bump(result.outcomes, `decode:${e.code}`);
          continue;
        }
        fail('decodeMessage threw a non-DecodeError', String(e instanceof Error ? (e.stack ?? e.message) : e), {
          command,
          payloadHex: hex(payload),
        });
        continue;
      }
      if (!isKnown(m)) {
        bump(result.outcomes, 'unknown-command');
        if (!(m.payload instanceof Uint8Array) || !equalBytes(m.payload, payload)) {
          fail('unknown message payload changed', `command ${JSON.stringify(command)}`, { command, payloadHex: hex(payload) });
        }
        continue;
      }
      bump(result.outcomes, 'decoded');
      bump(result.decodedCommands, m.command);
      let again: Uint8Array;
      try {
        again = encodePayload(m);
      } catch (e) {
        fail('decoded message does not re-encode', String(e), { command, payloadHex: hex(payload) });
        continue;
      }
      if (!equalBytes(again, payload)) {
        fail('re-encoding differs from the payload', `re-encoded ${hex(again).slice(0, 400)}`, { command, payloadHex: hex(payload) });
      }
    }
    const ms = Number(process.hrtime.bigint() - tCase) / 1e6;
    if (ms > result.slowestCaseMs) result.slowestCaseMs = ms;
    result.cases = n + 1;
    if (o.onProgress && o.progressEvery && (n + 1) % o.progressEvery === 0) {
      result.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      o.onProgress(n + 1, result);
    }
  }
  result.cases = o.cases;
  result.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return result;
}
