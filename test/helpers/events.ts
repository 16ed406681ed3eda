/**
 * Small events for bus tests: a `ping.latency` whose conn.id is its index, so a
 * consumer can tell exactly which events arrived.
 */
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent } from '../../src/events/types.js';

export function pingEvent(nodeId: string, i: number): ObserverEvent {
  return makeEvent({ nodeId, source: 'test' }, 'ping.latency', {
    conn: { id: i, direction: 'inbound', remote: '127.0.0.9:1000' },
    nonce: '18446744073709551615',
    latencyMs: 1,
  });
}
