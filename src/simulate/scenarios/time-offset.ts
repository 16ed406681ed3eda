/**
 * `time-offset`: peers whose version timestamp is hours away from the real time
 * (Core warns at 70 minutes; an attacker shifting a node's network-adjusted time
 * sends many such versions). Offsets alternate between ahead and behind, 2 to 6
 * hours. Each peer completes the handshake, stays 5 s, and reconnects with a new
 * offset.
 *
 * Parameters: --peers (default 4) peers from 127.33.0.1, .2, ...; --rate
 * (default 2) hours: the smallest offset (each is --rate to --rate + 4 hours).
 *
 * A detector sees: handshake.version events with timeOffsetSec of ±7,200 to
 * ±21,600 from these sources (honest peers: within seconds).
 */
import { randomInt } from 'node:crypto';
import { sourceIn24, versionMessage } from '../kit.js';
import { bump, keepRunning, type Scenario } from '../scenario.js';
import { holdOpen, session } from './common.js';

export const timeOffset: Scenario = {
  name: 'time-offset',
  summary: 'handshakes whose version timestamp is 2-6 hours ahead or behind',
  detectorSees: 'handshake.version timeOffsetSec of ±2 to ±6 hours from these peers (honest peers: seconds)',
  sources: 'one address per peer: 127.33.0.1, 127.33.0.2, ...',
  defaults: { peers: 4, rate: 2 },
  rateUnit: 'hours: the smallest offset (offsets are rate to rate+4 hours, ahead and behind in turn)',
  async run(ctx) {
    let n = 0;
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) => {
        const sign = n++ % 2 === 0 ? 1 : -1;
        const offsetSec = sign * Math.round(ctx.rate * 3600 + randomInt(0, 4 * 3600));
        return session(
          ctx,
          sourceIn24('127.33.0', i % ctx.peers),
          async (peer) => {
            bump(ctx.stats, 'offsetHandshakes');
            await holdOpen(ctx, peer, 5000);
          },
          {
            version: versionMessage({ timestamp: BigInt(Math.floor(Date.now() / 1000) + offsetSec) }),
          },
        );
      },
      200,
      100,
    );
  },
};
