/**
 * A message event whose payload is not its command's summary (MessageSummary,
 * src/events/message-summary.ts) is refused where events come in from the bus,
 * counted as rejected with the field named, and the valid events around it are
 * delivered: over a real nats-server, in both wire formats.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers } from '@nats-io/transport-node';
import { NatsBus } from '../../src/bus/nats.js';
import type { Subscription } from '../../src/bus/bus.js';
import { makeEvent } from '../../src/events/envelope.js';
import { packEvents } from '../../src/events/packed.js';
import { messageSummary } from '../../src/events/summary.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { msg } from '../../src/protocol/messages/index.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';

const conn = { id: 3, direction: 'inbound' as const, remote: '127.0.0.9:1000' };

function ping(nodeId: string, nonce: bigint): ObserverEvent {
  return makeEvent({ nodeId, source: 'p2p' }, 'message', { conn, dir: 'in', size: 8, ...messageSummary(msg('ping', { nonce })) });
}

async function takeN(sub: Subscription, n: number, timeoutMs = 10_000): Promise<ObserverEvent[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: ObserverEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (r === 'timeout' || r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('a malformed message payload from the bus (real nats-server)', { timeout: 60_000 }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await server.stop();
  });

  for (const encoding of ['json', 'msgpack'] as const)
    it(`is refused and counted, its neighbours delivered (${encoding})`, async () => {
      const node = `mp-${encoding}`;
      const consumer = await NatsBus.connect({ servers: [server.url] });
      const sub = consumer.subscribe({ nodeIds: [node] });
      await consumer.drain();
      const raw = await connect({ servers: server.url });
      // A ping whose nonce is a number (the summary says a u64 as a decimal string), between two good pings.
      const bad = ping(node, 2n) as unknown as { data: { payload: { nonce: unknown } } };
      bad.data.payload.nonce = 2;
      const events = [ping(node, 1n), bad as unknown as ObserverEvent, ping(node, 3n)];
      const h = headers();
      h.set('Po-Batch', `${encoding === 'json' ? 'v1' : 'v2'} 3`);
      h.set('Nats-Msg-Id', `P.1`);
      const body = encoding === 'json' ? new TextEncoder().encode(events.map((e) => JSON.stringify(e)).join('\n')) : packEvents(events);
      raw.publish(`po.v1.${node}.message`, body, { headers: h });
      await raw.flush();
      const got = await takeN(sub, 2);
      assert.deepEqual(
        got.map((e) => e.type === 'message' && e.data.known && e.data.command === 'ping' && e.data.payload),
        [{ nonce: '1' }, { nonce: '3' }],
      );
      const s = consumer.stats();
      assert.deepEqual([s.received, s.decoded, s.rejected], [3, 2, 1]);
      assert.match(String(s.lastError), /data\.payload\.nonce/);
      await raw.close();
      await consumer.close();
    });
});
