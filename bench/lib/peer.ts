/**
 * A minimal real v1 peer for load generation, built on our own codec
 * (FrameDecoder + encodeMessageFrame): it connects, sends version (70016) with
 * wtxidrelay and sendaddrv2, answers the listener's version with verack, counts
 * the handshake done when the listener's verack arrives, and answers pings.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { decodeMessage, encodeMessageFrame, msg } from '../../src/protocol/messages/index.js';
import type { Network } from '../../src/protocol/networks.js';

export interface PeerOptions {
  network: Network;
  host: string;
  port: number;
  /** Source address to bind (spreads load over many 127.x.y.z addresses). */
  localAddress?: string;
  nonce: bigint;
  onHandshake: () => void;
  onClose: (error?: Error) => void;
}

function ipv4Mapped(host: string): Uint8Array {
  const ip = new Uint8Array(16);
  ip[10] = 0xff;
  ip[11] = 0xff;
  const parts = host.split('.').map(Number);
  if (parts.length === 4) ip.set(parts, 12);
  return ip;
}

export function startPeer(o: PeerOptions): Socket {
  const decoder = new FrameDecoder({ network: o.network });
  const socket = connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
  socket.setNoDelay(true);
  let done = false;
  let closed = false;
  const close = (error?: Error) => {
    if (closed) return;
    closed = true;
    o.onClose(error);
  };
  const send = (m: Parameters<typeof encodeMessageFrame>[1]) => socket.write(encodeMessageFrame(o.network, m));
  socket.on('connect', () => {
    send(
      msg('version', {
        version: 70016,
        services: 0n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        receiver: { services: 0n, ip: ipv4Mapped(o.host), port: o.port },
        sender: { services: 0n, ip: ipv4Mapped(o.localAddress ?? '127.0.0.1'), port: socket.localPort ?? 0 },
        nonce: o.nonce,
        userAgent: '/peer-observer-bench:0.1.0/',
        startHeight: 0,
        relay: false,
      }),
    );
    send(msg('wtxidrelay', {}));
    send(msg('sendaddrv2', {}));
  });
  socket.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.type !== 'frame') {
        socket.destroy(new Error(`listener sent a bad frame: ${item.violation.kind}`));
        return;
      }
      const m = decodeMessage(item.frame.command, item.frame.payload);
      if (m.command === 'version') send(msg('verack', {}));
      else if (m.command === 'verack' && !done) {
        done = true;
        o.onHandshake();
      } else if (m.command === 'ping' && !('unknown' in m)) send(msg('pong', { nonce: m.payload.nonce }));
    }
  });
  socket.on('error', (e) => close(e));
  socket.on('close', () => close());
  return socket;
}
