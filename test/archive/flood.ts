/**
 * A flood over real TCP, for the archive's flood tests and bench/archive-flood.ts: one peer handshakes with the
 * observer, then sends `count` messages (addr of 1000 random entries, cycled from `variants` pre-encoded frames; or
 * pings with sequential nonces) as fast as the socket takes them, or at `perSecond`; then a ping with a nonce of its
 * own, and waits for the pong: the observer answers a connection's messages in order, so by then it has read (and
 * published) every message of the flood.
 */
import { randomInt } from 'node:crypto';
import { encodeMessageFrame, msg } from '../../src/protocol/messages/index.js';
import { MAX_ADDR_TO_SEND } from '../../src/protocol/limits.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import type { AddrEntry } from '../../src/protocol/messages/types.js';
import { ADDR_SERVICES, SimPeer, handshake, ipv4Mapped, randomRoutableIpv4, sleep } from '../../src/simulate/kit.js';

export interface FloodOptions {
  port: number;
  command: 'addr' | 'ping';
  count: number;
  /** Messages per second; as fast as the socket takes them when absent. */
  perSecond?: number;
  localAddress?: string;
  /** Distinct addr frames to cycle through. */
  variants?: number;
}

export interface FloodResult {
  /** Messages of the flood sent. */
  sent: number;
  /** Their bytes on the wire (24-byte headers included). */
  bytes: number;
  /** Entries in the addr messages sent. */
  entries: number;
  /** Our end of the connection, as the observer records it (`127.0.0.1:PORT`): the flood's `--peer`. */
  local: string;
  ms: number;
}

const network = NETWORKS.regtest;

function addrFrame(): Uint8Array {
  const now = Math.floor(Date.now() / 1000);
  const entries = Array.from({ length: MAX_ADDR_TO_SEND }, (): AddrEntry => ({
    time: now - randomInt(0, 3600),
    services: ADDR_SERVICES,
    ip: ipv4Mapped(randomRoutableIpv4()),
    port: 8333,
  }));
  return encodeMessageFrame(network, msg('addr', { entries }));
}

export async function flood(o: FloodOptions): Promise<FloodResult> {
  const peer = await SimPeer.open({
    network,
    host: '127.0.0.1',
    port: o.port,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  if (!(await handshake(peer, { timeoutMs: 10_000 }))) throw new Error('flood: no handshake');
  const frames = o.command === 'addr' ? Array.from({ length: o.variants ?? 16 }, addrFrame) : [];
  const t0 = performance.now();
  let sent = 0;
  let bytes = 0;
  const sendOne = () => {
    const frame =
      o.command === 'addr' ? frames[sent % frames.length]! : encodeMessageFrame(network, msg('ping', { nonce: BigInt(sent + 1) }));
    peer.sendRaw(frame, o.command);
    bytes += frame.length;
    sent++;
  };
  while (sent < o.count && peer.isOpen) {
    if (o.perSecond !== undefined) {
      const due = Math.min(o.count, Math.floor(((performance.now() - t0) / 1000) * o.perSecond) + 1);
      while (sent < due) sendOne();
      if (sent < o.count) await sleep(5);
    } else {
      sendOne();
      if (sent % 64 === 0) await peer.writable();
    }
  }
  if (sent < o.count) throw new Error(`flood: the observer closed the connection after ${sent} messages`);
  const nonce = 0x7fff_0000_0000_0001n;
  const pong = peer.waitFor((m) => m.command === 'pong' && (m.payload as { nonce?: bigint }).nonce === nonce, 300_000);
  peer.send(msg('ping', { nonce }));
  if (!(await pong)) throw new Error('flood: no pong after the flood');
  const ms = performance.now() - t0;
  const local = `${peer.localAddress ?? '127.0.0.1'}:${peer.localPort}`;
  await peer.close();
  return { sent, bytes, entries: o.command === 'addr' ? sent * MAX_ADDR_TO_SEND : 0, local, ms };
}
