/**
 * Webhooks: every alert change is POSTed as JSON to each URL
 * (`{"type":"alert","change":"raised|updated|resolved","alert":{...}}`).
 * One bounded FIFO per URL, delivered in order, one request at a time; a
 * failed request (network error, timeout, non-2xx) is retried with
 * exponential backoff up to `maxAttempts`. Counters are exact:
 *   enqueued = delivered + dropped + failed + queued (+ 1 in flight)
 * where `dropped` were refused because the queue was full and `failed` gave up
 * after the last attempt; `retried` counts the extra attempts.
 */
import type { Alert, AlertChange } from './types.js';

export interface WebhookOptions {
  maxQueue: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = Object.freeze({
  maxQueue: 1000,
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  timeoutMs: 10_000,
});

export interface WebhookCounters {
  enqueued: number;
  delivered: number;
  retried: number;
  dropped: number;
  failed: number;
  queued: number;
}

class Target {
  readonly queue: string[] = [];
  readonly c: WebhookCounters = { enqueued: 0, delivered: 0, retried: 0, dropped: 0, failed: 0, queued: 0 };
  private running = false;
  private idle: (() => void)[] = [];
  closed = false;

  constructor(
    readonly url: string,
    private readonly o: WebhookOptions,
  ) {}

  offer(body: string): void {
    this.c.enqueued++;
    if (this.closed || this.queue.length >= this.o.maxQueue) {
      this.c.dropped++;
      return;
    }
    this.queue.push(body);
    this.c.queued = this.queue.length;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const body = this.queue[0]!;
      let ok = false;
      for (let attempt = 1; attempt <= this.o.maxAttempts && !this.closed; attempt++) {
        if (attempt > 1) {
          this.c.retried++;
          await sleep(Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempt - 2)));
        }
        try {
          const res = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'peer-observer' },
            body,
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) {
            ok = true;
            break;
          }
        } catch {
          // retried below
        }
      }
      this.queue.shift();
      this.c.queued = this.queue.length;
      if (ok) this.c.delivered++;
      else this.c.failed++;
    }
    this.running = false;
    for (const r of this.idle.splice(0)) r();
  }

  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class WebhookSender {
  private readonly targets: Target[];

  constructor(urls: readonly string[], options: Partial<WebhookOptions> = {}) {
    const o = { ...DEFAULT_WEBHOOK_OPTIONS, ...options };
    this.targets = urls.map((u) => {
      const url = new URL(u);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error(`webhook ${JSON.stringify(u)}: expected an http:// or https:// URL`);
      return new Target(url.toString(), o);
    });
  }

  /** For AlertManager.onAlert. */
  readonly onAlert = (alert: Alert, change: AlertChange): void => {
    const body = JSON.stringify({ type: 'alert', change, alert });
    for (const t of this.targets) t.offer(body);
  };

  counters(): Record<string, WebhookCounters> {
    return Object.fromEntries(this.targets.map((t) => [t.url, { ...t.c }]));
  }

  /** Totals over all URLs. */
  totals(): WebhookCounters {
    const sum: WebhookCounters = { enqueued: 0, delivered: 0, retried: 0, dropped: 0, failed: 0, queued: 0 };
    for (const t of this.targets) for (const k of Object.keys(sum) as (keyof WebhookCounters)[]) sum[k] += t.c[k];
    return sum;
  }

  /** Wait until every queue is empty (delivered or given up). */
  async flush(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.whenIdle()));
  }

  /** Stop retrying; what is queued is dropped (counted) once the current request ends. */
  async close(): Promise<void> {
    for (const t of this.targets) t.closed = true;
    await this.flush();
    for (const t of this.targets) {
      t.c.dropped += t.queue.length;
      t.queue.length = 0;
      t.c.queued = 0;
    }
  }
}
