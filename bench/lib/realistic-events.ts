/**
 * The realistic message events of bench/pipeline and bench/archive-floor: one
 * per frame of the codec corpus (Bitcoin Core recordings + generated traffic),
 * with its JSON summary, one in `rawEvery` also carrying the raw payload
 * (base64). Node id `bench`, 50 connections, timeUs 0 (stamped when sent).
 */
import { summarizeMessage } from '../../src/events/summary.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { decodeMessage } from '../../src/protocol/messages/index.js';
import { fixtureFrames, generatedFrames } from './corpus.js';

export function realisticMessageEvents(rawEvery: number): ObserverEvent[] {
  const frames = [...fixtureFrames(), ...generatedFrames(1)];
  return frames.map((f, k) => {
    const m = decodeMessage(f.command, f.payload);
    return {
      v: 1,
      type: 'message',
      nodeId: 'bench',
      timeUs: 0,
      source: 'p2p',
      data: {
        conn: { id: k % 50, direction: 'inbound', remote: `198.51.100.${k % 250}:8333` },
        dir: 'in',
        command: f.command,
        size: f.payload.length,
        known: !('unknown' in m),
        payload: summarizeMessage(m),
        ...(rawEvery > 0 && k % rawEvery === 0 ? { raw: Buffer.from(f.payload).toString('base64') } : {}),
      },
    } as ObserverEvent;
  });
}
