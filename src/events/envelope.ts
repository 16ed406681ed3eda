import { SCHEMA_VERSION, type EventDataByType, type EventEnvelope, type EventType } from './types.js';

const originUs = performance.timeOrigin * 1000;

/** Microseconds since the Unix epoch from the monotonic high-resolution clock. */
export function nowUs(): number {
  return Math.round(originUs + performance.now() * 1000);
}

export interface EventOrigin {
  nodeId: string;
  source: string;
}

/** The one way to build an event: every event carries node id, source and a µs timestamp. */
export function makeEvent<T extends EventType>(origin: EventOrigin, type: T, data: EventDataByType[T], timeUs = nowUs()): EventEnvelope<T> {
  return { v: SCHEMA_VERSION, type, nodeId: origin.nodeId, timeUs, source: origin.source, data };
}
