import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startLogger } from '../../src/consumers/logger/logger.js';
import { makeEvent } from '../../src/events/index.js';

const origin = { nodeId: 'n1', source: 'p2p' };
const conn = { id: 1, direction: 'outbound' as const, remote: '127.0.0.1:18444' };

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

describe('logger', () => {
  it('writes one text line per event until the bus closes', async () => {
    const bus = new EmbeddedBus();
    const out = new PassThrough();
    const text = collect(out);
    const logger = startLogger(bus, out);
    bus.publish(makeEvent(origin, 'ping.latency', { conn, nonce: '1', latencyMs: 2 }));
    bus.publish(makeEvent(origin, 'message', { conn, dir: 'out', command: 'ping', size: 8, known: true, payload: { nonce: '1' } }));
    await bus.close();
    await logger.done;
    const lines = text().trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^# PING /);
    assert.match(lines[1]!, /^--> .* n1 conn=1 127\.0\.0\.1:18444 ping 8B nonce=1$/);
    assert.equal(logger.lines, 2);
  });

  it('writes exactly one JSON envelope per line in --json mode, filtered by type', async () => {
    const bus = new EmbeddedBus();
    const out = new PassThrough();
    const text = collect(out);
    const logger = startLogger(bus, out, { json: true, types: ['ping.latency'] });
    const e = makeEvent(origin, 'ping.latency', { conn, nonce: '18446744073709551615', latencyMs: 2.5 });
    bus.publish(e);
    bus.publish(makeEvent(origin, 'pipeline.counters', { stage: 'x', counters: {} }));
    await bus.close();
    await logger.done;
    const lines = text().trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!), e);
  });

  it('respects backpressure and the queue bound of a slow stream', async () => {
    const bus = new EmbeddedBus();
    let written = 0;
    const slow = new Writable({
      highWaterMark: 64,
      write(_chunk, _enc, cb) {
        written++;
        setTimeout(cb, 1);
      },
    });
    const logger = startLogger(bus, slow, { maxQueue: 10 });
    for (let i = 0; i < 100; i++) bus.publish(makeEvent(origin, 'ping.latency', { conn, nonce: String(i), latencyMs: 1 }));
    const dropped = logger.subscription.dropped;
    assert.ok(dropped >= 80, `dropped ${dropped}`);
    await bus.close();
    await logger.done;
    await new Promise<void>((r) => slow.end(r));
    assert.equal(written + dropped, 100);
  });

  it('stops when the stream is destroyed', async () => {
    const bus = new EmbeddedBus();
    const out = new PassThrough();
    out.on('error', () => {});
    const logger = startLogger(bus, out);
    out.destroy();
    bus.publish(makeEvent(origin, 'ping.latency', { conn, nonce: '1', latencyMs: 1 }));
    await logger.done;
    await logger.subscription.closed;
    await bus.close();
  });
});
