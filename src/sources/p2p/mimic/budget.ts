/**
 * Byte budgets for serving blocks, so the honeypot can never become an
 * amplifier: one per peer and one for the whole node, each over a rolling
 * window, like Core's -maxuploadtarget (net.cpp CConnman::OutboundTargetReached:
 * a budget per 24 h cycle; past it, historical blocks are refused by
 * disconnecting the asker, while recent blocks are still served so the
 * network keeps up). A peer past its own budget is refused the same way,
 * whatever the block's age: one peer cannot spend the node's budget.
 */
export interface BudgetOptions {
  /** Bytes of blocks one peer may be sent per window (default 200 MiB). */
  perPeerBytes: number;
  /** Bytes of blocks all peers together may be sent per window (default 5 GiB, a node's daily upload). */
  globalBytes: number;
  /** The window (default 24 h, Core's MAX_UPLOAD_TIMEFRAME). */
  windowMs: number;
}

export const DEFAULT_BUDGET: Readonly<BudgetOptions> = Object.freeze({
  perPeerBytes: 200 * 1024 * 1024,
  globalBytes: 5 * 1024 * 1024 * 1024,
  windowMs: 24 * 3_600_000,
});

export type BudgetVerdict = 'ok' | 'peer' | 'global';

interface Spend {
  bytes: number;
  since: number;
}

export class BlockBudget {
  private readonly perPeer = new WeakMap<object, Spend>();
  private global: Spend;
  refusedPeer = 0;
  refusedGlobal = 0;
  bytesCharged = 0;

  constructor(
    readonly options: BudgetOptions = DEFAULT_BUDGET,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.global = { bytes: 0, since: now() };
  }

  private roll(s: Spend, t: number): Spend {
    if (t - s.since >= this.options.windowMs) {
      s.bytes = 0;
      s.since = t;
    }
    return s;
  }

  /**
   * Charge `bytes` for `peer` when within both budgets. `historical`: the block
   * is older than a week, which the global budget refuses once spent (recent
   * blocks are always served under it, as Core serves them past its target).
   */
  charge(peer: object, bytes: number, historical: boolean): BudgetVerdict {
    const t = this.now();
    const g = this.roll(this.global, t);
    let p = this.perPeer.get(peer);
    if (!p) {
      p = { bytes: 0, since: t };
      this.perPeer.set(peer, p);
    }
    this.roll(p, t);
    if (p.bytes + bytes > this.options.perPeerBytes) {
      this.refusedPeer++;
      return 'peer';
    }
    if (historical && g.bytes + bytes > this.options.globalBytes) {
      this.refusedGlobal++;
      return 'global';
    }
    p.bytes += bytes;
    g.bytes += bytes;
    this.bytesCharged += bytes;
    return 'ok';
  }

  get globalSpent(): number {
    return this.global.bytes;
  }
}
