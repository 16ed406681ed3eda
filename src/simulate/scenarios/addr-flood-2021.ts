/**
 * `addr-flood-2021`: the July 2021 addr flood. Each peer completes a normal
 * handshake, then sends unsolicited `addr` messages of 1000 entries (Core's
 * MAX_ADDR_TO_SEND) as fast as `--rate` says: random IPv4 addresses, about 90 %
 * public and 10 % from reserved, private and otherwise non-routable ranges, each
 * with a timestamp from now up to 10 minutes in the future (as the 2021 flood's
 * were), services NODE_NETWORK | NODE_WITNESS, the network's port.
 *
 * Parameters: --peers (default 4) peers, each from its own source address
 * 127.21.0.1, .2, ...; --rate (default 2) addr messages per second per peer.
 *
 * A detector sees: addr messages with `count` 1000 from every source, none
 * requested by a getaddr; Core's per-peer token bucket (0.1 address/s, burst
 * 1000) exhausted by the first message and thousands in debt after a few
 * seconds; entries with `time` up to 600 s ahead; reserved addresses among them.
 */
import { randomInt } from 'node:crypto';
import { MAX_ADDR_TO_SEND } from '../../protocol/limits.js';
import { msg } from '../../protocol/messages/index.js';
import type { AddrEntry } from '../../protocol/messages/types.js';
import { ADDR_SERVICES, ipv4Mapped, randomRoutableIpv4, sourceIn24 } from '../kit.js';
import { bump, keepRunning, Pacer, type Scenario } from '../scenario.js';
import { randomReservedIpv4, session } from './common.js';

/** Seconds ahead of now an entry's timestamp may be. */
export const ADDR_FLOOD_MAX_FUTURE_SEC = 600;
/** Share of entries from reserved or non-routable ranges. */
export const ADDR_FLOOD_RESERVED_SHARE = 0.1;

/** One flood message's entries. */
export function floodEntries(port: number, nowSec = Math.floor(Date.now() / 1000)): { entries: AddrEntry[]; reserved: number } {
  let reserved = 0;
  const entries = Array.from({ length: MAX_ADDR_TO_SEND }, (): AddrEntry => {
    const bad = Math.random() < ADDR_FLOOD_RESERVED_SHARE;
    if (bad) reserved++;
    return {
      time: nowSec + randomInt(0, ADDR_FLOOD_MAX_FUTURE_SEC + 1),
      services: ADDR_SERVICES,
      ip: ipv4Mapped(bad ? randomReservedIpv4() : randomRoutableIpv4()),
      port,
    };
  });
  return { entries, reserved };
}

export const addrFlood2021: Scenario = {
  name: 'addr-flood-2021',
  summary: 'unsolicited 1000-entry addr messages of random public and reserved IPv4, timestamps up to 10 min ahead (July 2021)',
  detectorSees:
    'addr messages of 1000 entries from each source with no getaddr before them; the per-peer addr token bucket (0.1/s, burst 1000) ' +
    'exhausted by the first message; entry timestamps up to 600 s in the future; ~10 % reserved/non-routable entries',
  sources: 'one address per peer: 127.21.0.1, 127.21.0.2, ...',
  defaults: { peers: 4, rate: 2 },
  rateUnit: 'addr messages per second per peer',
  async run(ctx) {
    await keepRunning(
      ctx.peers,
      ctx.signal,
      (i) =>
        session(ctx, sourceIn24('127.21.0', i % ctx.peers), async (peer) => {
          const pacer = new Pacer(ctx.rate, ctx.signal);
          while (peer.isOpen && (await pacer.take())) {
            await peer.writable();
            const { entries, reserved } = floodEntries(ctx.network.defaultPort);
            if (!peer.send(msg('addr', { entries }))) break;
            bump(ctx.stats, 'addrMessages');
            bump(ctx.stats, 'addrEntries', entries.length);
            bump(ctx.stats, 'reservedEntries', reserved);
          }
        }),
      500,
      100,
    );
  },
};
