/**
 * The realistic peer mix of bench/memory and bench/detectors: peer i's ten
 * events (open, version message and facts, handshake, addrv2 with two fresh
 * addresses, inv, ping, pong, latency, close) from a distinct address spread
 * over many /16s, as the real network is.
 */
import { makeEvent } from '../../src/events/envelope.js';
import type { ConnRef, ObserverEvent } from '../../src/events/types.js';

export const EVENTS_PER_PEER = 10;

const origin = { nodeId: 'bench', source: 'p2p' };
const UAS = ['/Satoshi:27.1.0/', '/Satoshi:28.0.0/', '/Satoshi:26.2.0/', '/btcd:0.24.2/'];

/** A distinct address for peer i: spread over many /16s, as the real network is. */
export function address(i: number): string {
  return `${1 + ((i >>> 16) % 220)}.${(i >>> 8) & 0xff}.${i & 0xff}.${(i * 7) % 250}`;
}

export function peerEvents(i: number, t0: number): ObserverEvent[] {
  const ip = address(i);
  const conn: ConnRef = { id: i, direction: i % 8 === 0 ? 'outbound' : 'inbound', remote: `${ip}:8333` };
  const netgroup = `${ip.split('.').slice(0, 2).join('.')}.0.0/16`;
  const sec = Math.floor(t0 / 1e6);
  const ev = (type: ObserverEvent['type'], data: unknown, dtMs: number) =>
    makeEvent(origin, type, data as never, t0 + dtMs * 1000) as ObserverEvent;
  return [
    ev('connection.opened', { conn, local: '10.0.0.1:8333', network: 'mainnet', netgroup, transport: 'v1' }, 0),
    ev('message', { conn, dir: 'in', command: 'version', size: 102, known: true, payload: {} }, 50),
    ev(
      'handshake.version',
      {
        conn,
        version: 70016,
        services: '3081',
        serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED', 'NODE_P2P_V2'],
        userAgent: i % 50 === 0 ? `/fake:${i}/` : UAS[i % UAS.length]!,
        startHeight: 850_000,
        relay: true,
        nonce: String(i * 2654435761),
        timeOffsetSec: (i % 5) - 2,
        receiver: '10.0.0.1:8333',
        sender: null,
      },
      50,
    ),
    ev('handshake.complete', { conn, elapsedMs: 120, wtxidRelay: true, addrV2: true }, 120),
    ev(
      'message',
      {
        conn,
        dir: 'in',
        command: 'addrv2',
        size: 24,
        known: true,
        payload: {
          count: 2,
          entries: [
            { time: sec - 120, services: '1033', network: 'ipv4', addr: address(i + 7_777_777), port: 8333 },
            { time: sec - 3600, services: '1033', network: 'ipv4', addr: address(i + 3_333_333), port: 8333 },
          ],
        },
      },
      900,
    ),
    ev('message', { conn, dir: 'in', command: 'inv', size: 37, known: true, payload: { count: 1, types: { wtx: 1 }, items: [] } }, 1500),
    ev('message', { conn, dir: 'out', command: 'ping', size: 8, known: true, payload: { nonce: String(i) } }, 2000),
    ev('message', { conn, dir: 'in', command: 'pong', size: 8, known: true, payload: { nonce: String(i) } }, 2040),
    ev('ping.latency', { conn, nonce: String(i), latencyMs: 40 }, 2040),
    ev(
      'connection.closed',
      {
        conn,
        network: 'mainnet',
        netgroup,
        reason: 'peer-closed',
        detail: 'closed',
        durationMs: 9000,
        handshakeComplete: true,
        bytesIn: 400,
        bytesOut: 300,
        messagesIn: 4,
        messagesOut: 2,
      },
      9000,
    ),
  ];
}
