/**
 * Reading aggregates back (fold.ts writes them): decoding and checking an
 * aggregate row, and expanding it into the events it stands for, for replay.
 *
 * An expanded aggregate is `count` copies of its sample (the first folded
 * event, whole), with times spread evenly from its first to its last folded
 * event and the payload bytes shared out so that they add up to the exact
 * total; `raw` is kept only where the size is the sample's own. So a replay
 * carries exactly as many events per connection, direction and command, and
 * exactly as many bytes, as the live stream did; what it cannot give back is
 * each folded event's own payload and exact time (docs/archive.md).
 */
import { EventValidationError, parseEvent } from '../../events/schema.js';
import type { ObserverEvent } from '../../events/types.js';
import type { Aggregate, AggregateCounts } from './fold.js';

const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parse and check an aggregate row's envelope; throws EventValidationError. */
export function decodeAggregate(text: string, folded: number): Aggregate {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new EventValidationError(`aggregate: not a JSON document: ${(e as Error).message}`);
  }
  const v = value as { aggregate?: Partial<AggregateCounts>; sample?: unknown };
  const a = v?.aggregate;
  if (
    !a ||
    !count(a.count) ||
    a.count < 1 ||
    a.count !== folded ||
    !count(a.bytes) ||
    !count(a.items) ||
    !count(a.firstUs) ||
    !count(a.lastUs) ||
    a.lastUs < a.firstUs
  ) {
    throw new EventValidationError('aggregate: counts missing or inconsistent');
  }
  const sample = parseEvent(v.sample);
  if (sample.type !== 'message' && sample.type !== 'violation') throw new EventValidationError(`aggregate of ${sample.type} events`);
  return {
    aggregate: { count: a.count, bytes: a.bytes, items: a.items, firstUs: a.firstUs, lastUs: a.lastUs },
    sample,
  };
}

/** The `count` events an aggregate stands for (see the module comment). */
export function* expandAggregate(a: Aggregate): Generator<ObserverEvent> {
  const { count: n, bytes, firstUs, lastUs } = a.aggregate;
  const base = Math.floor(bytes / n);
  const extra = bytes - base * n;
  const sampleData = a.sample.data as { size?: number; raw?: string };
  for (let i = 0; i < n; i++) {
    const timeUs = n === 1 ? firstUs : firstUs + Math.round((i * (lastUs - firstUs)) / (n - 1));
    let data: unknown = a.sample.data;
    if (typeof sampleData.size === 'number') {
      const size = base + (i < extra ? 1 : 0);
      if (size !== sampleData.size) {
        const { raw: _raw, ...rest } = sampleData;
        data = { ...rest, size };
      }
    }
    yield { ...a.sample, timeUs, data } as ObserverEvent;
  }
}
