/** Pieces several scenarios share: a handshaked session held until a condition, and random address material. */
import { randomBytes, randomInt } from 'node:crypto';
import { handshake, type HandshakeOptions, type SimPeer, sleep } from '../kit.js';
import type { ScenarioContext } from '../scenario.js';

/**
 * Open from `source`, handshake, run `body` while the connection is up, then
 * close and account. Resolves when done; rejects only when the connection could
 * not be opened.
 */
export async function session(
  ctx: ScenarioContext,
  source: string,
  body: (peer: SimPeer) => Promise<void>,
  options: HandshakeOptions = {},
): Promise<void> {
  const peer = await ctx.open(source);
  try {
    if (await handshake(peer, options)) {
      ctx.stats.handshakes++;
      await body(peer);
    }
  } finally {
    await peer.close();
    ctx.account(peer);
  }
}

/** Until the signal aborts or the peer closes. */
export async function holdOpen(ctx: ScenarioContext, peer: SimPeer, maxMs = Infinity): Promise<void> {
  if (ctx.signal.aborted || !peer.isOpen) return;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  void peer.closed.then(onAbort);
  await sleep(Number.isFinite(maxMs) ? maxMs : 2 ** 31 - 1, stop.signal);
  ctx.signal.removeEventListener('abort', onAbort);
}

/** Reserved and non-routable IPv4 ranges as the 2021 flood mixed them in: [first octets, prefix bits]. */
const RESERVED_V4: readonly [number[], number][] = [
  [[10], 8],
  [[172, 16], 12],
  [[192, 168], 16],
  [[100, 64], 10], // CGNAT
  [[0], 8],
  [[127], 8],
  [[169, 254], 16],
  [[198, 18], 15], // benchmarking
  [[192, 0, 2], 24], // documentation
  [[203, 0, 113], 24],
  [[224], 4], // multicast
  [[240], 4],
];

/** A random IPv4 address (4 bytes) from a reserved, private or otherwise non-routable range. */
export function randomReservedIpv4(): Uint8Array {
  const [prefix, bits] = RESERVED_V4[randomInt(RESERVED_V4.length)]!;
  const b = new Uint8Array(randomBytes(4));
  for (let i = 0; i < 4; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = (0xff << (8 - keep)) & 0xff;
    b[i] = ((prefix[i] ?? 0) & mask) | (b[i]! & ~mask & 0xff);
  }
  return b;
}
