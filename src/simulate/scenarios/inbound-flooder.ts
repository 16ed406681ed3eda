/**
 * `inbound-flooder`: many inbound connections from one netgroup. Connections
 * come from distinct addresses inside one /16 (127.77.0.0/16 on loopback: one
 * Bitcoin Core netgroup on a real network), each completes the handshake, stays
 * for two seconds, and is replaced by a new one from the next address: the
 * inbound slots fill with one netgroup and keep churning.
 *
 * Parameters: --peers (default 30) connections held at once; --rate (default
 * 20) new connections per second in total.
 *
 * A detector sees: a burst of connection.opened from one /16 (distinct IPs, so
 * per-IP limits do not stop it), most inbound connections at any moment from
 * that /16, and a high open/close churn from it.
 */
import { sourceIn16 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { holdOpen, session } from './common.js';

export const INBOUND_FLOODER_PREFIX = '127.77';
/** How long each connection stays. */
export const INBOUND_FLOODER_HOLD_MS = 2000;

export const inboundFlooder: Scenario = {
  name: 'inbound-flooder',
  summary: 'many inbound connections from distinct addresses in one /16, each held briefly and replaced',
  detectorSees: 'a burst of inbound connections from one /16 (distinct IPs), that /16 holding most inbound slots, and high churn from it',
  sources: `one /16: ${INBOUND_FLOODER_PREFIX}.0.1, ${INBOUND_FLOODER_PREFIX}.0.2, ... (a new address per connection)`,
  defaults: { peers: 30, rate: 20 },
  rateUnit: 'new connections per second in total',
  async run(ctx) {
    const pacer = new Pacer(ctx.rate, ctx.signal);
    await keepRunning(
      ctx.peers,
      ctx.signal,
      async (i) => {
        if (!(await pacer.take())) return;
        await session(ctx, sourceIn16(INBOUND_FLOODER_PREFIX, i), async (peer) => {
          bump(ctx.stats, 'floodConnections');
          await holdOpen(ctx, peer, INBOUND_FLOODER_HOLD_MS);
        });
      },
      0,
    );
  },
};
