/** Synthetic events for archive tests: realistic envelopes with known fields. */
import { makeEvent } from '../../src/events/envelope.js';
import { summaryOf, type MessageSummary } from '../../src/events/message-summary.js';
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
      size: 8,
      ...summaryCarrying(seq, opts.command ?? 'ping'),
      // Padding rides in `raw` (base64), the one free-form field a message event has.
      ...(opts.pad ? { raw: 'A'.repeat(Math.ceil(opts.pad / 4) * 4) } : {}),
    },
    opts.timeUs ?? T0_US + seq * 1000,
  );
}

/** A well-formed summary of `command` that carries `seq` where seqOf finds it. */
function summaryCarrying(seq: number, command: string): MessageSummary {
  if (command === 'addr')
    return { command, known: true, payload: { count: 1, entries: [{ time: seq, services: '0', addr: '192.0.2.1', port: 8333 }] } };
  if (command === 'inv') {
    const hash = seq.toString(16).padStart(64, '0');
    return { command, known: true, payload: { count: 1, types: { tx: 1 }, items: [{ type: 'tx', hash }] } };
  }
  if (command === 'ping') return { command, known: true, payload: { nonce: String(seq) } };
  // Any other command: one we have no codec for, its 4 bytes the sequence number.
  return { command, known: false, payload: { length: 4, hex: seq.toString(16).padStart(8, '0'), truncated: false } };
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

/** The sequence number of a message made by message(). */
export function seqOf(e: ObserverEvent): number {
  if (e.type !== 'message') throw new Error('not a message of message()');
  const d = e.data;
  if (!d.known) return parseInt(summaryOf(d)?.hex ?? '', 16);
  if (d.command === 'ping') return Number(summaryOf(d)?.nonce);
  if (d.command === 'addr') return summaryOf(d)?.entries[0]?.time ?? NaN;
  if (d.command === 'inv') return parseInt(summaryOf(d)?.items[0]?.hash ?? '', 16);
  throw new Error(`not a message of message(): ${d.command}`);
}

/** The counters most tests assert (file size, folding and health have tests of their own). */
export function core(c: ArchiveCounters) {
  return { received: c.received, written: c.written, batches: c.batches, failed: c.failed, pruned: c.pruned, dropped: c.dropped };
}
