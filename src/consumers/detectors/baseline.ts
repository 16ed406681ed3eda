/**
 * Adaptive baselines: a series is summed into fixed buckets (e.g. 10 s); the
 * last `windowBuckets` closed buckets give a rolling median and MAD (median
 * absolute deviation). A bucket is anomalous when it exceeds
 * median + k · max(1.4826 · MAD, minSpread) — 1.4826 · MAD estimates a standard
 * deviation and, unlike one, is not dragged up by the attack itself — once at
 * least `minHistory` buckets are known. Operators need not hand-tune rates:
 * what is normal for this node is learnt.
 */
export interface BaselineOptions {
  bucketMs: number;
  windowBuckets: number;
  minHistory: number;
  k: number;
  /** Floor for the spread, so a perfectly flat history does not alert on +1. */
  minSpread: number;
}

export interface BaselineVerdict {
  value: number;
  median: number;
  mad: number;
  threshold: number;
  anomalous: boolean;
  /** Below median − k·spread (a drop). */
  low: boolean;
}

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const mid = n >> 1;
  return n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export class RollingBaseline {
  private readonly history: number[] = [];
  private bucketIndex = -1;
  private current = 0;

  constructor(readonly options: BaselineOptions) {}

  private get bucketUs(): number {
    return this.options.bucketMs * 1000;
  }

  /**
   * Move the clock to `timeUs`, closing buckets on the way; returns the verdicts
   * for the closed buckets (judged against the history before each).
   */
  advance(timeUs: number): BaselineVerdict[] {
    const index = Math.floor(timeUs / this.bucketUs);
    if (this.bucketIndex < 0) {
      this.bucketIndex = index;
      return [];
    }
    const out: BaselineVerdict[] = [];
    // At most windowBuckets empty buckets matter: older ones fall out of the window anyway.
    let steps = Math.min(index - this.bucketIndex, this.options.windowBuckets + 1);
    while (steps-- > 0) {
      out.push(this.judge(this.current));
      this.push(this.current);
      this.current = 0;
    }
    if (index > this.bucketIndex) this.bucketIndex = index;
    return out;
  }

  add(timeUs: number, n = 1): BaselineVerdict[] {
    const closed = this.advance(timeUs);
    this.current += n;
    return closed;
  }

  /** Set the current bucket's value (for level series: connections now, ...). */
  set(timeUs: number, value: number): BaselineVerdict[] {
    const closed = this.advance(timeUs);
    this.current = value;
    return closed;
  }

  get currentValue(): number {
    return this.current;
  }

  get historyLength(): number {
    return this.history.length;
  }

  private push(v: number): void {
    this.history.push(v);
    if (this.history.length > this.options.windowBuckets) this.history.shift();
  }

  /** Judge a value against the closed buckets so far. */
  judge(value: number): BaselineVerdict {
    const sorted = [...this.history].sort((a, b) => a - b);
    const med = median(sorted);
    const deviations = sorted.map((x) => Math.abs(x - med)).sort((a, b) => a - b);
    const mad = median(deviations);
    const spread = Math.max(1.4826 * mad, this.options.minSpread);
    const threshold = med + this.options.k * spread;
    const enough = this.history.length >= this.options.minHistory;
    return {
      value,
      median: med,
      mad,
      threshold,
      anomalous: enough && value > threshold,
      low: enough && value < med - this.options.k * spread,
    };
  }
}
