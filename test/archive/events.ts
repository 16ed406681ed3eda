/** Synthetic events for archive tests: realistic envelopes with known fields. */
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent } from '../../src/events/types.js';
import type { ArchiveCounters } from '../../src/consumers/archive/consumer.js';

export const T0_US = Date.UTC(2024, 5, 1, 12, 0, 0) * 1000;

export function message(
  seq: number,
  opts: { nodeId?: string; remote?: string; command?: string; timeUs?: number; connId?: number; pad?: number } = {},
): ObserverEvent {
  return makeEvent(
    { nodeId: opts.nodeId ?? 'node-a', source: 'p2p' },
    'message',
    {
      conn: { id: opts.connId ?? 1, direction: 'inbound', remote: opts.remote ?? '198.51.100.4:50412' },
      dir: 'in',
      command: opts.command ?? 'ping',
      size: 8,
      known: true,
      payload: { nonce: String(seq), ...(opts.pad ? { filler: 'f'.repeat(opts.pad) } : {}) },
    },
    opts.timeUs ?? T0_US + seq * 1000,
  );
}

export function counters(seq: number, nodeId = 'node-a', timeUs = T0_US + seq * 1000): ObserverEvent {
  return makeEvent({ nodeId, source: 'bus' }, 'pipeline.counters', { stage: 'bus', counters: { seq } }, timeUs);
}

export function opened(seq: number, remote: string, nodeId = 'node-a', timeUs = T0_US + seq * 1000): ObserverEvent {
  return makeEvent(
    { nodeId, source: 'p2p' },
    'connection.opened',
    { conn: { id: seq, direction: 'inbound', remote }, local: '127.0.0.1:18444', network: 'regtest', netgroup: 'local', transport: 'v1' },
    timeUs,
  );
}

/** The `nonce` (sequence number) of a message made by message(). */
export function seqOf(e: { data: unknown }): number {
  return Number((e.data as { payload: { nonce: string } }).payload.nonce);
}

/** The counters most tests assert (file size, folding and health have tests of their own). */
export function core(c: ArchiveCounters) {
  return { received: c.received, written: c.written, batches: c.batches, failed: c.failed, pruned: c.pruned, dropped: c.dropped };
}
