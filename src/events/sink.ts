/**
 * Publishing events under one observer's node id and one source name: every
 * source's events go through makeEvent here, and a publisher that throws is
 * counted, never allowed to break the source (a connection, a poll, a log line).
 */
import { makeEvent } from './envelope.js';
import type { EventDataByType, EventType, ObserverEvent } from './types.js';

export class EventSink<S extends string = string> {
  published = 0;
  publishErrors = 0;

  constructor(
    readonly nodeId: string,
    readonly source: S,
    private readonly publish: (event: ObserverEvent) => void,
  ) {}

  /** `timeUs`: when it happened, if not now (Core's own timestamps). */
  emit<T extends EventType>(type: T, data: EventDataByType[T], timeUs?: number): void {
    try {
      this.publish(makeEvent({ nodeId: this.nodeId, source: this.source }, type, data, timeUs) as ObserverEvent);
      this.published++;
    } catch {
      this.publishErrors++;
    }
  }
}
