/**
 * The p2p source's event sink (events/sink.ts, source 'p2p') and its running totals.
 */
import type { EventSink } from '../../events/sink.js';
import type { ViolationKind } from '../../events/types.js';

export const SOURCE = 'p2p';

export type P2PSink = EventSink<typeof SOURCE>;

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
