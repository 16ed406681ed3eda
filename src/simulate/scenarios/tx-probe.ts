/**
 * `tx-probe`: transaction-origin spies. Peers that handshake, never announce a
 * transaction, and ask for transactions nobody announced to them (getdata of
 * random wtxids, 8 per message): probing the mempool to learn which node
 * knows a transaction first. Bitcoin Core only requests what a peer announced
 * (and an orphan's parents), so every such item is a probe.
 *
 * Parameters: --peers (default 2) peers from 127.36.0.1, .2, ...; --rate
 * (default 5) getdata messages per second per peer.
 *
 * A detector sees: getdata for transactions never announced to the peer, no
 * inv from it, our notfound answers.
 */
import { randomBytes } from 'node:crypto';
import { msg } from '../../protocol/messages/index.js';
import { INV_TYPE, type InvItem } from '../../protocol/messages/types.js';
import { sourceIn24 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { session } from './common.js';

export const TX_PROBE_ITEMS = 8;

function probeItems(): InvItem[] {
  const bytes = randomBytes(32 * TX_PROBE_ITEMS);
  return Array.from({ length: TX_PROBE_ITEMS }, (_, i) => ({
    type: INV_TYPE.wtx,
    hash: new Uint8Array(bytes.buffer, bytes.byteOffset + 32 * i, 32),
  }));
}

export const txProbe: Scenario = {
  name: 'tx-probe',
  summary: 'handshaked peers that never announce and ask for transactions nobody announced to them (getdata of random wtxids)',
  detectorSees: 'getdata for transactions never announced to the peer, no inv from it',
  sources: 'one address per peer: 127.36.0.1, 127.36.0.2, ...',
  defaults: { peers: 2, rate: 5 },
  rateUnit: 'getdata messages per second per peer',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) =>
        session(ctx, sourceIn24('127.36.0', i % ctx.peers), async (peer) => {
          const pacer = new Pacer(ctx.rate, ctx.signal);
          while (peer.isOpen && (await pacer.take())) {
            await peer.writable();
            if (!peer.send(msg('getdata', { items: probeItems() }))) break;
            bump(ctx.stats, 'getdataMessages');
            bump(ctx.stats, 'probedTxs', TX_PROBE_ITEMS);
          }
        }),
      500,
      50,
    );
  },
};
