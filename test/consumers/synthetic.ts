/** Synthetic event streams for the metrics and peers tests (and the memory bench): one peer's life as events. */
import { makeEvent } from '../../src/events/envelope.js';
import type { ConnRef, ObserverEvent } from '../../src/events/types.js';

const origin = { nodeId: 'test-node', source: 'p2p' };

/** A distinct public-looking IPv4 address for peer `i` (up to 2^24 of them). */
export function addressOf(i: number): string {
  return `${11 + ((i >>> 16) & 0x7f)}.${(i >>> 8) & 0xff}.${i & 0xff}.${1 + (i % 250)}`;
}

/** Every event a peer's connection produces, in order: open, version, handshake, traffic, ping, violation, close. */
export function peerLife(
  i: number,
  options: { timeUs?: number; userAgent?: string; direction?: 'inbound' | 'outbound' } = {},
): ObserverEvent[] {
  const t = options.timeUs ?? 1_700_000_000_000_000 + i * 1000;
  const conn: ConnRef = { id: i, direction: options.direction ?? 'inbound', remote: `${addressOf(i)}:8333` };
  const netgroup = addressOf(i).split('.').slice(0, 2).join('.') + '.0.0/16';
  const nowSec = Math.floor(t / 1e6);
  const ev = (type: ObserverEvent['type'], data: unknown, dt: number) => makeEvent(origin, type, data as never, t + dt) as ObserverEvent;
  return [
    ev('connection.opened', { conn, local: '127.0.0.1:18444', network: 'regtest', netgroup, transport: 'v1' }, 0),
    ev(
      'handshake.version',
      {
        conn,
        version: 70016,
        services: '1033',
        serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED'],
        userAgent: options.userAgent ?? `/Satoshi:${i}.0.0/`,
        startHeight: 800_000,
        relay: true,
        nonce: String(i),
        timeOffsetSec: (i % 7) - 3,
        receiver: '127.0.0.1:18444',
        sender: null,
      },
      100,
    ),
    // As the log source reports it: the command and size, no payload.
    ev('message', { conn, dir: 'in', command: 'version', size: 102, known: true, payload: null }, 100),
    ev('handshake.complete', { conn, elapsedMs: 2.5, wtxidRelay: true, addrV2: true }, 2500),
    ev(
      'message',
      {
        conn,
        dir: 'in',
        command: 'addrv2',
        size: 40,
        known: true,
        payload: {
          count: 2,
          entries: [
            { time: nowSec - 60, services: '1033', network: 'ipv4', addr: '203.0.113.9', port: 8333 },
            { time: nowSec + 3600, services: '4294967297', network: 'ipv6', addr: '2001:db8::1', port: 8333 },
          ],
        },
      },
      3000,
    ),
    ev(
      'message',
      { conn, dir: 'in', command: 'inv', size: 73, known: true, payload: { count: 2, types: { wtx: 1, block: 1 }, items: [] } },
      3100,
    ),
    ev('message', { conn, dir: 'out', command: 'ping', size: 8, known: true, payload: { nonce: '1' } }, 3200),
    ev(
      'message',
      { conn, dir: 'in', command: `zz${i}`, size: 3, known: false, payload: { length: 3, hex: '000000', truncated: false } },
      3300,
    ),
    ev('ping.latency', { conn, nonce: '1', latencyMs: 12.5 }, 3400),
    ev('violation', { conn, kind: 'unsolicited-pong', action: 'none', detail: 'pong without ping' }, 3500),
    ev(
      'connection.closed',
      {
        conn,
        network: 'regtest',
        netgroup,
        reason: 'peer-closed',
        detail: 'closed',
        durationMs: 5,
        handshakeComplete: true,
        bytesIn: 500,
        bytesOut: 200,
        messagesIn: 5,
        messagesOut: 1,
      },
      5000,
    ),
  ];
}

export { origin };
