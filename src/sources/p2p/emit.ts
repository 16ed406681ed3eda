/**
 * Event emission for the p2p source: every event goes through makeEvent with
 * source 'p2p' and the observer's node id, and a publisher that throws is
 * counted, never allowed to break a connection.
 */
import { makeEvent } from '../../events/envelope.js';
import type { EventDataByType, EventType, ObserverEvent, ViolationKind } from '../../events/types.js';

export const SOURCE = 'p2p';

export class EventSink {
  published = 0;
  publishErrors = 0;

  constructor(
    private readonly nodeId: string,
    private readonly publish: (event: ObserverEvent) => void,
  ) {}

  emit<T extends EventType>(type: T, data: EventDataByType[T]): void {
    try {
      this.publish(makeEvent({ nodeId: this.nodeId, source: SOURCE }, type, data) as ObserverEvent);
      this.published++;
    } catch {
      this.publishErrors++;
    }
  }
}

/** The observer's running totals, published as `pipeline.counters` and returned by stats(). */
export class ObserverCounters {
  inboundAccepted = 0;
  inboundRefusedPerIp = 0;
  inboundRefusedTotal = 0;
  outboundAttempts = 0;
  outboundConnected = 0;
  outboundFailed = 0;
  handshakesCompleted = 0;
  /** Frames that passed framing checks, per direction. */
  framesIn = 0;
  framesOut = 0;
  /** Bytes of connections already closed; live ones are added by the observer. */
  closedBytesIn = 0;
  closedBytesOut = 0;
  unknownCommands = 0;
  violations = 0;
  /** Messages we did not send because the peer's send buffer was full. */
  sendDrops = 0;
  /** Closed connections' pauses; live ones are added by the observer. */
  closedSendPauses = 0;
  /** BIP324: v2 sessions established, and decoy packets received on closed connections (live ones added by the observer). */
  v2Sessions = 0;
  closedDecoysIn = 0;
  readonly violationsByKind = new Map<ViolationKind, number>();

  violation(kind: ViolationKind): void {
    this.violations++;
    this.violationsByKind.set(kind, (this.violationsByKind.get(kind) ?? 0) + 1);
  }
}
