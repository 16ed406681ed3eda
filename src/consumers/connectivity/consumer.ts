/**
 * The connectivity check: a consumer of `message` events that tries the
 * addresses peers advertise in addr/addrv2, to tell real nodes from made-up
 * ones (the July 2021 flood advertised hundreds of thousands of addresses that
 * were no node at all).
 *
 * For every advertised entry: targets.ts decides whether it may be dialled
 * (public IPs only by default; Tor/I2P/CJDNS skipped, no proxy support yet); a
 * result cache (LRU with TTL) answers repeats; otherwise the address joins a
 * bounded queue, and workers probe it (probe.ts: a real v1 handshake) with
 * bounded concurrency and a global rate. Each result is published as a
 * `connectivity.result` (under the advertising observer's node id) and counted
 * per source peer; a `connectivity.summary` with the reachable shares, overall
 * and per source, goes out every `summaryIntervalMs` and at the end.
 *
 * Nothing is dropped silently: a full queue counts `dropped`, and addresses
 * already waiting count as `coalesced`.
 *
 * The state machine is checker.ts's ConnectivityChecker (tested without a bus);
 * this file subscribes it to a bus and publishes its summary on a timer.
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import type { ConnectivitySummary } from '../../events/types.js';
import { ConnectivityChecker, type CheckerOptions } from './checker.js';

export interface ConnectivityOptions extends CheckerOptions {
  summaryIntervalMs?: number;
  /** Subscription queue bound (default 100,000 events). */
  maxEvents?: number;
}

export interface ConnectivityCheck {
  /** Resolves when the bus closes or `stop()` finished, after the last summary. */
  done: Promise<void>;
  stop(): Promise<void>;
  summary(): ConnectivitySummary;
}

export function startConnectivity(bus: Bus, options: ConnectivityOptions): ConnectivityCheck {
  const { summaryIntervalMs = 10_000, maxEvents = 100_000, ...checkerOptions } = options;
  const checker = new ConnectivityChecker(checkerOptions, { publish: (e) => bus.publish(e) });
  const summaryTimer = setInterval(() => checker.publishSummary(), summaryIntervalMs).unref();
  const sub: Subscription = bus.subscribe({ types: ['message'], maxQueue: maxEvents });
  const consume = async () => {
    for await (const e of sub) {
      if (checker.stopping) break;
      checker.message(e);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(summaryTimer);
      sub.unsubscribe();
      await checker.stop();
      checker.publishSummary();
    })());
  const done = (async () => {
    await consume();
    await stop();
  })();
  return { done, stop, summary: () => checker.summary() };
}
