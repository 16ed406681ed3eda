/**
 * `linkinglion`: a LinkingLion-like spy (AS54098). Short connections from one
 * /24 (on loopback 127.54.98.0/24, standing in for 162.218.65.0/24): each sends
 * a version with nonce 0, a fake user agent from a rotating list, services
 * NODE_NETWORK | NODE_WITNESS and a lagging start height, reads our version and
 * verack, and leaves after a moment without ever sending verack.
 *
 * Parameters: --peers (default 4) connections at once; --rate (default 4) new
 * connections per second in total. Each connection lives 300-800 ms after
 * our verack (at most 2 s without one).
 *
 * A detector sees: many connections from one /24 closed by the peer with
 * `handshakeComplete` false after < 1 s, version nonce 0, a different user agent
 * on successive connections, start heights behind the others.
 */
import { randomInt } from 'node:crypto';
import { sleep, sourceIn24, versionMessage } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';

/** The /24 it dials from on loopback. */
export const LINKINGLION_PREFIX = '127.54.98';

/** User agents it rotates through: real release strings, none of them true. */
export const LINKINGLION_USER_AGENTS = [
  '/Satoshi:0.21.0/',
  '/Satoshi:22.0.0/',
  '/Satoshi:0.20.1/',
  '/Satoshi:23.0.0/',
  '/Satoshi:0.18.1/',
  '/Satoshi:24.0.1/',
  '/Satoshi:0.19.0.1/',
  '/Satoshi:25.0.0/',
];

/** Start heights it claims: far behind the tip. */
export const LINKINGLION_START_HEIGHT = 600_000;

export const linkingLion: Scenario = {
  name: 'linkinglion',
  summary: 'short connections from one /24 that never send verack, nonce 0, rotating fake user agents',
  detectorSees:
    'connections from one /24 closed by the peer within a second, handshakeComplete false, version nonce 0, ' +
    'user agents changing between connections, lagging start heights',
  sources: `one /24: ${LINKINGLION_PREFIX}.1 - ${LINKINGLION_PREFIX}.254, a new address per connection`,
  defaults: { peers: 4, rate: 4 },
  rateUnit: 'new connections per second in total',
  async run(ctx) {
    const pacer = new Pacer(ctx.rate, ctx.signal);
    let n = 0;
    await keepRunning(
      ctx.peers,
      ctx.signal,
      async (i) => {
        if (!(await pacer.take())) return;
        const peer = await ctx.open(sourceIn24(LINKINGLION_PREFIX, i));
        const userAgent = LINKINGLION_USER_AGENTS[n++ % LINKINGLION_USER_AGENTS.length]!;
        try {
          peer.send(
            versionMessage({
              remoteIp: peer.remoteAddress,
              remotePort: peer.remotePort,
              nonce: 0n,
              userAgent,
              services: 1n | 8n,
              startHeight: LINKINGLION_START_HEIGHT - randomInt(0, 1000),
            }),
          );
          await peer.waitFor('verack', 2000);
          await sleep(randomInt(300, 800), ctx.signal);
          bump(ctx.stats, 'shortConnections');
        } finally {
          await peer.close();
          ctx.account(peer);
        }
      },
      0,
    );
  },
};
