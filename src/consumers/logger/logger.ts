/**
 * The logger consumer: takes events from one bus subscription and writes one
 * line per event to a stream. Formatting lives in format.ts; this file only
 * moves lines and respects the stream's backpressure (a slow terminal fills the
 * subscription's bounded queue, and what overflows is counted there).
 */
import type { Writable } from 'node:stream';
import type { Bus, Subscription } from '../../bus/bus.js';
import type { EventType, ObserverEvent } from '../../events/types.js';
import { formatJson, formatText } from './format.js';

export interface LoggerOptions {
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Only these event types; all when omitted. */
  types?: readonly EventType[];
  /** Only events from these observers (node ids); all when omitted. */
  nodeIds?: readonly string[];
  maxQueue?: number;
}

export interface Logger {
  readonly subscription: Subscription;
  /** Lines written so far. */
  readonly lines: number;
  /** Resolves when the subscription has ended and every line is handed to the stream. */
  readonly done: Promise<void>;
}

export function formatLine(event: ObserverEvent, json: boolean): string {
  return (json ? formatJson(event) : formatText(event)) + '\n';
}

/** Subscribe to `bus` and write every event to `out` until the subscription ends. */
export function startLogger(bus: Bus, out: Writable, options: LoggerOptions = {}): Logger {
  const subscription = bus.subscribe({
    ...(options.types ? { types: options.types } : {}),
    ...(options.nodeIds ? { nodeIds: options.nodeIds } : {}),
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
  });
  const state = { lines: 0 };
  const done = writeAll(subscription, out, options.json ?? false, state);
  return {
    subscription,
    get lines() {
      return state.lines;
    },
    done,
  };
}

async function writeAll(events: AsyncIterable<ObserverEvent>, out: Writable, json: boolean, state: { lines: number }): Promise<void> {
  for await (const event of events) {
    // A closed pipe (e.g. `| head`) ends the logger (and its subscription) instead of hanging.
    if (out.destroyed || out.writableEnded) break;
    state.lines++;
    if (!out.write(formatLine(event, json))) {
      if (!(await writable(out))) break;
    }
  }
}

/** Wait for 'drain'; false when the stream closed or failed instead. Leaves no listeners behind. */
export function writable(out: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onClose);
  });
}
