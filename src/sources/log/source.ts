/**
 * The log source: follows Bitcoin Core's debug.log (or a FIFO) and publishes
 * what its lines say as events (interpret.ts), with `pipeline.counters` (stage
 * `log`) every `countersEveryMs` and at the end: lines, events, unknown lines by
 * category, rotations, truncations, cut lines.
 *
 * Core must log with `-debug=net` (message, connection and addr lines;
 * `-debug=mempool,mempoolrej,validation` for those events) and ideally
 * `-logips` (peer addresses) and `-logtimemicros`.
 */
import type { ObserverEvent } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { EventSink } from '../../events/sink.js';
import { followFile, type FollowCounters } from './follow.js';
import { LogInterpreter } from './interpret.js';

export interface LogSourceOptions {
  path: string;
  nodeId: string;
  network: NetworkName;
  publish: (event: ObserverEvent) => void;
  signal?: AbortSignal;
  /** Read the file from its start (default: only lines written from now on). */
  fromStart?: boolean;
  /** Stop at the end of the file (a finished log) instead of following it. */
  once?: boolean;
  pollMs?: number;
  maxLineBytes?: number;
  /** pipeline.counters every this often (default 10 s); 0 disables the periodic ones. */
  countersEveryMs?: number;
  /** Publish `pipeline.counters` itself (default true); false when a runtime (src/runtime/) publishes stats() from its one timer. */
  publishCounters?: boolean;
}

export interface LogSource {
  /** Resolves when following ends (stop, abort, or the end of the file with `once`). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
  stats(): Record<string, number>;
}

export function startLogSource(options: LogSourceOptions): LogSource {
  const sink = new EventSink(options.nodeId, 'log', options.publish);
  const interpreter = new LogInterpreter(sink, options.network);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const follow: FollowCounters = { bytes: 0, rotations: 0, truncations: 0, truncatedLines: 0, missing: 0 };
  const stats = (): Record<string, number> =>
    interpreter.snapshot({
      bytes: follow.bytes,
      rotations: follow.rotations,
      truncations: follow.truncations,
      truncatedLines: follow.truncatedLines,
      missing: follow.missing,
      publishErrors: sink.publishErrors,
    });
  const every = options.publishCounters === false ? 0 : (options.countersEveryMs ?? 10_000);
  const timer = every > 0 ? setInterval(() => sink.emit('pipeline.counters', { stage: 'log', counters: stats() }), every) : undefined;
  timer?.unref();

  const done = (async () => {
    try {
      await followFile({
        path: options.path,
        signal,
        counters: follow,
        onLine: (line) => interpreter.line(line),
        ...(options.fromStart !== undefined ? { fromStart: options.fromStart } : {}),
        ...(options.once !== undefined ? { once: options.once } : {}),
        ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
        ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
      });
    } finally {
      interpreter.end();
      if (timer) clearInterval(timer);
      if (options.publishCounters !== false) sink.emit('pipeline.counters', { stage: 'log', counters: stats() });
    }
  })();

  return {
    done,
    async stop() {
      stop.abort();
      await done;
    },
    stats,
  };
}
