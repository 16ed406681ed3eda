/**
 * `ping-spam`: peers that handshake, then ping far more often than any node
 * does (Core pings every 2 minutes), with odd nonces: zero, one constant value
 * repeated, and small sequential numbers; every tenth message is an unsolicited
 * pong instead.
 *
 * Parameters: --peers (default 3) peers from 127.31.0.1, .2, ...; --rate
 * (default 50) pings per second per peer.
 *
 * A detector sees: incoming pings per peer per second in the tens (an honest
 * peer: one per minute or two), nonces 0 and repeated, and `unsolicited-pong`
 * violations from the same peers.
 */
import { msg } from '../../protocol/messages/index.js';
import { sourceIn24 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { session } from './common.js';

/** The nonce it repeats. */
export const PING_SPAM_REPEATED_NONCE = 0x4242424242424242n;

export const pingSpam: Scenario = {
  name: 'ping-spam',
  summary: 'handshaked peers sending tens of pings per second with zero, repeated and sequential nonces, plus unsolicited pongs',
  detectorSees: 'incoming pings per peer per second in the tens; nonce 0 and one nonce repeated; unsolicited-pong violations',
  sources: 'one address per peer: 127.31.0.1, 127.31.0.2, ...',
  defaults: { peers: 3, rate: 50 },
  rateUnit: 'pings per second per peer',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) =>
        session(ctx, sourceIn24('127.31.0', i % ctx.peers), async (peer) => {
          const pacer = new Pacer(ctx.rate, ctx.signal);
          let n = 0;
          while (peer.isOpen && (await pacer.take())) {
            n++;
            if (n % 10 === 0) {
              peer.send(msg('pong', { nonce: BigInt(n) }));
              bump(ctx.stats, 'unsolicitedPongs');
              continue;
            }
            const nonce = n % 3 === 0 ? 0n : n % 3 === 1 ? PING_SPAM_REPEATED_NONCE : BigInt(n);
            peer.send(msg('ping', { nonce }));
            bump(ctx.stats, 'pings');
          }
        }),
      500,
      50,
    );
  },
};
