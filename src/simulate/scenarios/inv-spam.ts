/**
 * `inv-spam`: peers that handshake, then announce transactions nobody has, in
 * large inv messages at a high rate: mostly 5,000 random wtxids each, every
 * tenth message a full 50,000 (Core's MAX_INV_SZ). They answer the observer's
 * getdata with nothing.
 *
 * Parameters: --peers (default 2) peers from 127.32.0.1, .2, ...; --rate
 * (default 10) inv messages per second per peer.
 *
 * A detector sees: inv messages per peer per second far above an honest peer's
 * (a few, of a few entries each), entry counts in the thousands up to 50,000,
 * and inv entries per second per peer in the tens of thousands.
 */
import { randomBytes } from 'node:crypto';
import { MAX_INV_SZ } from '../../protocol/limits.js';
import { msg } from '../../protocol/messages/index.js';
import { INV_TYPE, type InvItem } from '../../protocol/messages/types.js';
import { sourceIn24 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { session } from './common.js';

export const INV_SPAM_ENTRIES = 5000;

function invItems(n: number): InvItem[] {
  const bytes = randomBytes(32 * n);
  return Array.from({ length: n }, (_, i) => ({ type: INV_TYPE.wtx, hash: new Uint8Array(bytes.buffer, bytes.byteOffset + 32 * i, 32) }));
}

export const invSpam: Scenario = {
  name: 'inv-spam',
  summary: 'handshaked peers announcing thousands of made-up wtxids per inv, many inv per second (every 10th a full 50,000)',
  detectorSees: 'inv messages per peer per second far above honest, entry counts in the thousands and up to 50,000 (MAX_INV_SZ)',
  sources: 'one address per peer: 127.32.0.1, 127.32.0.2, ...',
  defaults: { peers: 2, rate: 10 },
  rateUnit: 'inv messages per second per peer',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) =>
        session(ctx, sourceIn24('127.32.0', i % ctx.peers), async (peer) => {
          const pacer = new Pacer(ctx.rate, ctx.signal);
          let n = 0;
          while (peer.isOpen && (await pacer.take())) {
            await peer.writable();
            const count = ++n % 10 === 0 ? MAX_INV_SZ : INV_SPAM_ENTRIES;
            if (!peer.send(msg('inv', { items: invItems(count) }))) break;
            bump(ctx.stats, 'invMessages');
            bump(ctx.stats, 'invEntries', count);
          }
        }),
      500,
      50,
    );
  },
};
