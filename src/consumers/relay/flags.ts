/**
 * The dashboard's per-peer flags: which watch-list range (LinkingLion by
 * default) an address is in, and whether an active `spy` alert names it. Fed
 * with alert events as they come and refreshed from the alert store, so a flag
 * set before the page connected is there too. Bounded by the store's own query
 * limit (1000 active spy alerts).
 */
import type { AlertStore } from '../alerts/types.js';
import { CidrList, ipOfRemote } from '../../net/remote.js';
import { LINKINGLION_RANGES } from '../../net/known-ranges.js';
import type { Alert } from '../../events/types.js';

export class PeerFlags {
  private readonly list = new CidrList(LINKINGLION_RANGES.map((r) => ({ cidr: r.cidr, label: r.label })));
  private spies = new Set<string>();

  constructor(private readonly store: () => AlertStore | undefined = () => undefined) {
    this.refresh();
  }

  /** An alert event: a spy alert on a peer sets or clears its flag. */
  observeAlert(a: Alert): void {
    if (a.detector !== 'spy' || a.subject.kind !== 'peer') return;
    if (a.status === 'active') this.spies.add(ipOfRemote(a.subject.id));
    else this.spies.delete(ipOfRemote(a.subject.id));
  }

  /** Re-read the active spy alerts (each tick: alerts resolved by expiry send no event to every reader). */
  refresh(): void {
    const store = this.store();
    if (!store) return;
    this.spies = new Set(
      store
        .alerts({ status: 'active', detector: 'spy', limit: 1000 })
        .filter((a) => a.subject.kind === 'peer')
        .map((a) => ipOfRemote(a.subject.id)),
    );
  }

  /** The flags of a peer's `ip:port` address. */
  of(address: string): { listMatch: string | null; spy: boolean } {
    const ip = ipOfRemote(address);
    return { listMatch: this.list.match(ip)?.label ?? null, spy: this.spies.has(ip) };
  }
}
