/**
 * `honest`: well-behaved peers (simulate/honest-peer.ts): a modern Core-like
 * handshake, pings answered, now and then a ping, a few fresh routable
 * addresses, an inv of a few wtxids, a getheaders, rarely a transaction. The
 * baseline every detector must stay quiet on.
 *
 * Parameters: --peers (default 3) peers from 127.10.0.1, .2, ...; --rate
 * (default 0.5) pieces of traffic per second per peer (on average).
 *
 * A detector sees: nothing to alert on.
 */
import { runHonestPeer } from '../honest-peer.js';
import { sourceIn24 } from '../kit.js';
import { keepRunning, type Scenario } from '../scenario.js';

export const honest: Scenario = {
  name: 'honest',
  summary: 'well-behaved Core-like peers: the baseline no detector may alert on',
  detectorSees: 'nothing: handshakes complete, pings answered, a little ordinary traffic',
  sources: 'one address per peer: 127.10.0.1, 127.10.0.2, ...',
  defaults: { peers: 3, rate: 0.5 },
  rateUnit: 'pieces of traffic per second per peer, on average',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      async (i) => {
        let r;
        try {
          r = await runHonestPeer({
            network: ctx.network,
            host: ctx.target.host,
            port: ctx.target.port,
            ...(ctx.loopbackSources ? { localAddress: sourceIn24('127.10.0', i % ctx.peers) } : {}),
            trafficIntervalMs: 1000 / ctx.rate,
            signal: ctx.signal,
            ...(ctx.connect ? { connect: ctx.connect } : {}),
          });
        } catch (err) {
          ctx.connectFailed(err as Error);
          throw err;
        }
        ctx.stats.connections++;
        if (r.stats.handshakeComplete) ctx.stats.handshakes++;
        for (const [k, v] of Object.entries(r.stats.sent)) ctx.stats.sent[k] = (ctx.stats.sent[k] ?? 0) + v;
      },
      1000,
      150,
    );
  },
};
