/**
 * `malformed`: handshaked peers that send broken traffic, cycling through:
 * a frame with a wrong checksum, an unknown command with a random payload, a
 * header whose command has a control byte, and known commands (inv, addr,
 * headers) with truncated garbage payloads. After 20 of these, the connection
 * ends with a fatal frame: a header claiming 4,000,001 bytes (over Core's
 * 4,000,000 maximum) or, every other time, a header with another magic; the
 * peer then reconnects.
 *
 * Parameters: --peers (default 2) peers from 127.34.0.1, .2, ...; --rate
 * (default 20) broken messages per second per peer.
 *
 * A detector sees: violation events of kinds `bad-checksum`, `invalid-command`,
 * `malformed-payload`, `oversize` and `bad-magic` from these peers (the last two
 * disconnect them), and unknown-command message events (`known: false`).
 */
import { randomBytes } from 'node:crypto';
import { encodeFrame, HEADER_SIZE } from '../../protocol/framing.js';
import { MAX_PROTOCOL_MESSAGE_LENGTH } from '../../protocol/limits.js';
import type { Network } from '../../protocol/networks.js';
import { sourceIn24 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { holdOpen, session } from './common.js';

/** Broken messages per connection before the fatal one. */
export const MALFORMED_PER_CONNECTION = 20;

export type MalformedKind = 'bad-checksum' | 'unknown-command' | 'invalid-command' | 'garbage-payload' | 'oversize' | 'bad-magic';

/** The bytes of one broken message of `kind`. */
export function malformedBytes(network: Network, kind: MalformedKind, n = 0): Uint8Array {
  switch (kind) {
    case 'bad-checksum': {
      const f = encodeFrame(network, 'ping', new Uint8Array(randomBytes(8)));
      f[20]! ^= 0xff;
      return f;
    }
    case 'unknown-command':
      return encodeFrame(network, 'xyzzy', new Uint8Array(randomBytes(16)));
    case 'invalid-command': {
      const f = encodeFrame(network, 'inv', new Uint8Array([0]));
      f[5] = 0x01; // 'i\x01v': not printable ASCII
      return f;
    }
    case 'garbage-payload': {
      // A count that promises more than follows: truncated, not too many.
      const command = (['inv', 'addr', 'headers'] as const)[n % 3]!;
      return encodeFrame(network, command, new Uint8Array([0x05, ...randomBytes(11)]));
    }
    case 'oversize': {
      const f = encodeFrame(network, 'block', new Uint8Array(0)).subarray(0, HEADER_SIZE);
      new DataView(f.buffer, f.byteOffset).setUint32(16, MAX_PROTOCOL_MESSAGE_LENGTH + 1, true);
      return f;
    }
    case 'bad-magic': {
      const f = encodeFrame(network, 'ping', new Uint8Array(8));
      new DataView(f.buffer, f.byteOffset).setUint32(0, 0xdeadbeef, false);
      return f;
    }
  }
}

const CYCLE: MalformedKind[] = ['bad-checksum', 'unknown-command', 'invalid-command', 'garbage-payload'];

export const malformed: Scenario = {
  name: 'malformed',
  summary: 'bad checksums, unknown and invalid commands, garbage payloads, then an oversize or bad-magic header',
  detectorSees:
    'violations bad-checksum, invalid-command, malformed-payload, then oversize or bad-magic (disconnect) from these peers; ' +
    'unknown-command messages (known: false)',
  sources: 'one address per peer: 127.34.0.1, 127.34.0.2, ...',
  defaults: { peers: 2, rate: 20 },
  rateUnit: 'broken messages per second per peer',
  async run(ctx) {
    let connections = 0;
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) =>
        session(ctx, sourceIn24('127.34.0', i % ctx.peers), async (peer) => {
          const pacer = new Pacer(ctx.rate, ctx.signal);
          for (let n = 0; n < MALFORMED_PER_CONNECTION && peer.isOpen; n++) {
            if (!(await pacer.take())) return;
            const kind = CYCLE[n % CYCLE.length]!;
            peer.sendRaw(malformedBytes(ctx.network, kind, n), kind);
            bump(ctx.stats, kind);
          }
          if (!peer.isOpen || !(await pacer.take())) return;
          const fatal: MalformedKind = connections++ % 2 === 0 ? 'oversize' : 'bad-magic';
          peer.sendRaw(malformedBytes(ctx.network, fatal), fatal);
          bump(ctx.stats, fatal);
          await holdOpen(ctx, peer, 2000); // the observer disconnects us
        }),
      200,
      50,
    );
  },
};
