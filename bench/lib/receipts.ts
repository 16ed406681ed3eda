/**
 * What bench/pipeline's consumer processes (nats-consumer.ts,
 * archive-consumer.ts) record of the events they take and report as one JSON
 * line: receipt times, latency percentiles (receipt − event.timeUs, µs), the
 * longest wait between two events, CPU from `ready` on (process and threads),
 * and the largest resident set. One watchdog samples RSS and calls `onIdle`
 * after `idleMs` without an event (a timer per event cost ≈ 3 % of a process).
 */
import { threadCpuSeconds, threadCpuSince } from './threads.js';

export class Receipts {
  readonly latencies: Float64Array;
  n = 0;
  private firstUs = 0;
  private lastUs = 0;
  private lastSeen = Date.now();
  /** The longest wait between two events, and after how many (a stall of the path shows here, not in the rate). */
  private maxGapUs = 0;
  private maxGapAt = 0;
  /** The largest resident set seen (what a backlog costs in memory), and the V8 heap and buffers at that moment. */
  private maxRss = 0;
  private heapAtMaxRss = 0;
  private buffersAtMaxRss = 0;
  private cpuAtReady = process.cpuUsage();
  private threadsAtReady = threadCpuSeconds();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    expected: number,
    private readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {
    this.latencies = new Float64Array(expected);
  }

  /** From now on CPU counts and the idle watchdog runs. */
  ready(): void {
    this.cpuAtReady = process.cpuUsage();
    this.threadsAtReady = threadCpuSeconds();
    this.lastSeen = Date.now();
    this.watchdog = setInterval(() => {
      this.sampleMemory();
      if (Date.now() - this.lastSeen > this.idleMs) this.onIdle();
    }, 100);
  }

  private sampleMemory(): void {
    const m = process.memoryUsage();
    if (m.rss <= this.maxRss) return;
    this.maxRss = m.rss;
    this.heapAtMaxRss = m.heapTotal;
    this.buffersAtMaxRss = m.external;
  }

  /** `events` taken at `t` (µs); `publishedUs(k)` is the k-th one's publish time. */
  took(t: number, events: number, publishedUs: (k: number) => number): void {
    this.lastSeen = Date.now();
    if (this.n === 0) this.firstUs = t;
    else if (t - this.lastUs > this.maxGapUs) {
      this.maxGapUs = t - this.lastUs;
      this.maxGapAt = this.n;
    }
    this.lastUs = t;
    for (let k = 0; k < events && this.n < this.latencies.length; k++, this.n++) this.latencies[this.n] = t - publishedUs(this.n);
  }

  /** Stops the watchdog; the JSON report's common fields. */
  finish(): Record<string, unknown> {
    clearInterval(this.watchdog);
    this.sampleMemory();
    const n = this.n;
    // CPU used from `ready` to the last event (idle waits cost none).
    const cpu = process.cpuUsage(this.cpuAtReady);
    const sorted = this.latencies.subarray(0, n).sort();
    const pct = (p: number) => (n ? sorted[Math.min(n - 1, Math.floor(p * n))]! : NaN);
    return {
      received: n,
      firstUs: this.firstUs,
      lastUs: this.lastUs,
      p50Us: pct(0.5),
      p99Us: pct(0.99),
      maxUs: n ? sorted[n - 1] : NaN,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      threads: threadCpuSince(this.threadsAtReady),
      maxRssMb: this.maxRss / 2 ** 20,
      heapAtMaxRssMb: this.heapAtMaxRss / 2 ** 20,
      buffersAtMaxRssMb: this.buffersAtMaxRss / 2 ** 20,
      maxGapUs: this.maxGapUs,
      maxGapAt: this.maxGapAt,
    };
  }
}
