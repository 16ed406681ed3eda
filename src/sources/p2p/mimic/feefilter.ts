/**
 * The feefilter value and schedule, as Bitcoin Core sends them
 * (net_processing MaybeSendFeefilter, policy/fees FeeFilterRounder).
 */

/** Satoshis in 21 million BTC: MaybeSendFeefilter sends MAX_MONEY while in initial block download. */
export const MAX_MONEY = 21_000_000n * 100_000_000n;
/** net_processing AVG_FEEFILTER_BROADCAST_INTERVAL and MAX_FEEFILTER_CHANGE_DELAY. */
export const AVG_FEEFILTER_BROADCAST_INTERVAL_MS = 10 * 60_000;
export const MAX_FEEFILTER_CHANGE_DELAY_MS = 5 * 60_000;
/** policy/fees: MAX_FILTER_FEERATE and FEE_FILTER_SPACING, the rounder's buckets. */
const MAX_FILTER_FEERATE = 1e7;
const FEE_FILTER_SPACING = 1.1;

/**
 * FeeFilterRounder: the bucket boundaries are 0 and every min·1.1^k up to 1e7
 * sat/kvB, min = max(1, incremental relay fee / 2) (MakeFeeSet). round() takes
 * the first boundary at or above the fee and, unless it is the first, steps one
 * bucket down with probability 2/3, so the exact mempool minimum never leaks.
 */
export class FeeFilterRounder {
  private readonly set: number[];
  constructor(
    incrementalFeeSatPerKvB: number,
    private readonly random: () => number = Math.random,
  ) {
    const min = Math.max(1, Math.trunc(incrementalFeeSatPerKvB / 2));
    const set = [0];
    for (let b = min; b <= MAX_FILTER_FEERATE; b *= FEE_FILTER_SPACING) set.push(b);
    this.set = set;
  }

  /** The boundaries (as Core stores them: doubles, truncated when sent). */
  get buckets(): readonly number[] {
    return this.set;
  }

  round(fee: bigint): bigint {
    const f = Number(fee);
    let i = this.set.findIndex((b) => b >= f);
    if (i === -1) i = this.set.length - 1;
    else if (i > 0 && Math.floor(this.random() * 3) !== 0) i--;
    return BigInt(Math.trunc(this.set[i]!));
  }
}

/** An exponentially distributed delay with the given mean (FastRandomContext::rand_exp_duration). */
export function expDelay(meanMs: number, random: () => number = Math.random): number {
  return -Math.log(1 - random()) * meanMs;
}

export interface FeeFilterState {
  sent: bigint | undefined;
  nextSendMs: number;
}

/**
 * One MaybeSendFeefilter step: the value to send now (or undefined) and the
 * new schedule. `minFee` is the backend's mempool minimum fee (sat/kvB).
 */
export function maybeFeefilter(
  state: FeeFilterState,
  input: { nowMs: number; minFee: bigint; minRelayFee: bigint; ibd: boolean; rounder: FeeFilterRounder; random?: () => number },
): bigint | undefined {
  const random = input.random ?? Math.random;
  let current = input.minFee;
  if (input.ibd) current = MAX_MONEY;
  else if (state.sent === input.rounder.round(MAX_MONEY)) {
    // Sent MAX_FILTER while in IBD and now out of it: send the real filter now.
    state.nextSendMs = 0;
  }
  let out: bigint | undefined;
  if (input.nowMs > state.nextSendMs) {
    let filter = input.rounder.round(current);
    // "We always have a fee filter of at least the min relay fee".
    if (filter < input.minRelayFee) filter = input.minRelayFee;
    if (filter !== state.sent) {
      out = filter;
      state.sent = filter;
    }
    state.nextSendMs = input.nowMs + expDelay(AVG_FEEFILTER_BROADCAST_INTERVAL_MS, random);
  } else if (
    state.sent !== undefined &&
    input.nowMs + MAX_FEEFILTER_CHANGE_DELAY_MS < state.nextSendMs &&
    (current < (3n * state.sent) / 4n || current > (4n * state.sent) / 3n)
  ) {
    state.nextSendMs = input.nowMs + random() * MAX_FEEFILTER_CHANGE_DELAY_MS;
  }
  return out;
}
