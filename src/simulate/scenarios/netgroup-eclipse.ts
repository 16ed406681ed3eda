/**
 * `netgroup-eclipse`: an eclipse attempt that concentrates long-lived, polite
 * connections in one /16 (127.88.0.0/16 on loopback). Each peer handshakes,
 * answers pings, and every 10 s advertises a few addresses inside the same /16
 * (addrman poisoning: "connect to more of us"). Connections are added at
 * `--rate` until `--peers` are held, and re-made when dropped, so the share of
 * inbound connections from that /16 rises and netgroup diversity falls.
 *
 * Parameters: --peers (default 40) connections held; --rate (default 5) new
 * connections per second while ramping up.
 *
 * A detector sees: inbound connections from one /16 rising to most of the
 * total and staying; the count of distinct netgroups per connection falling;
 * addr entries from those peers all inside their own /16.
 */
import { randomInt } from 'node:crypto';
import { msg } from '../../protocol/messages/index.js';
import { ADDR_SERVICES, ipv4Mapped, sleep, sourceIn16 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { session } from './common.js';

export const ECLIPSE_PREFIX = '127.88';

export const netgroupEclipse: Scenario = {
  name: 'netgroup-eclipse',
  summary: 'long-lived polite connections concentrated in one /16, advertising addresses in that /16',
  detectorSees:
    'the share of inbound connections from one /16 rising to most of the total and staying; netgroup diversity falling; ' +
    'addr entries from those peers inside their own /16',
  sources: `one /16: ${ECLIPSE_PREFIX}.0.1, ${ECLIPSE_PREFIX}.0.2, ...`,
  defaults: { peers: 40, rate: 5 },
  rateUnit: 'new connections per second while ramping up',
  async run(ctx) {
    const pacer = new Pacer(ctx.rate, ctx.signal);
    const [a, b] = ECLIPSE_PREFIX.split('.').map(Number) as [number, number];
    await keepRunning(
      ctx.peers,
      ctx.signal,
      async (i) => {
        if (!(await pacer.take())) return;
        await session(ctx, sourceIn16(ECLIPSE_PREFIX, i % ctx.peers), async (peer) => {
          bump(ctx.stats, 'eclipseConnections');
          while (peer.isOpen && !ctx.signal.aborted) {
            await sleep(10_000 * (0.5 + Math.random()), ctx.signal);
            if (!peer.isOpen || ctx.signal.aborted) break;
            const now = Math.floor(Date.now() / 1000);
            const entries = Array.from({ length: randomInt(2, 6) }, () => ({
              time: now - randomInt(0, 3600),
              services: ADDR_SERVICES,
              ip: ipv4Mapped(new Uint8Array([a, b, randomInt(0, 256), randomInt(1, 255)])),
              port: ctx.network.defaultPort,
            }));
            peer.send(msg('addr', { entries }));
            bump(ctx.stats, 'addrEntries', entries.length);
          }
        });
      },
      1000,
    );
  },
};
