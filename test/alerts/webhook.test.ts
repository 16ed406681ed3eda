/**
 * Webhooks against real HTTP receivers on 127.0.0.1: one that fails N times
 * then succeeds (everything arrives, in order, retries counted exactly) and one
 * that always fails (bounded queue: exact dropped and failed counts).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebhookSender } from '../../src/consumers/alerts/webhook.js';
import type { Alert } from '../../src/consumers/alerts/types.js';

function alert(i: number): Alert {
  return {
    id: `a-${i}`,
    detector: 'addr-flood',
    severity: 'critical',
    subject: { kind: 'peer', id: '45.83.1.9:1' },
    summary: `flood ${i}`,
    firstSeenUs: 1,
    lastSeenUs: 2,
    status: 'active',
    nodeIds: ['obs-1'],
    count: 1,
    evidence: { counts: {}, samples: [] },
    incidentId: 'i-1',
  };
}

async function receiver(failFirst: number): Promise<{ server: Server; url: string; bodies: string[]; requests: () => number }> {
  const bodies: string[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests++;
      if (requests <= failFirst) {
        res.statusCode = 503;
        res.end('busy');
        return;
      }
      bodies.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hook`, bodies, requests: () => requests };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

describe('webhooks', () => {
  it('a receiver failing 3 times then recovering gets every alert, in order; retries counted exactly', async () => {
    const r = await receiver(3);
    servers.push(r.server);
    const w = new WebhookSender([r.url], { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 5, maxQueue: 100 });
    for (let i = 0; i < 20; i++) w.onAlert(alert(i), i === 0 ? 'raised' : 'updated');
    await w.flush();
    assert.equal(r.bodies.length, 20);
    assert.deepEqual(
      r.bodies.map((b) => (JSON.parse(b) as { alert: Alert }).alert.id),
      Array.from({ length: 20 }, (_, i) => `a-${i}`),
    );
    assert.equal((JSON.parse(r.bodies[0]!) as { change: string }).change, 'raised');
    assert.deepEqual(w.totals(), { enqueued: 20, delivered: 20, retried: 3, dropped: 0, failed: 0, queued: 0 });
    assert.equal(r.requests(), 23);
  });

  it('a receiver that always fails: a bounded queue, exact counts of dropped and failed', async () => {
    const r = await receiver(Number.MAX_SAFE_INTEGER);
    servers.push(r.server);
    const w = new WebhookSender([r.url], { baseDelayMs: 2, maxDelayMs: 4, maxAttempts: 3, maxQueue: 10 });
    for (let i = 0; i < 25; i++) w.onAlert(alert(i), 'updated');
    // The first is taken off the queue's head only when done: 10 fit, 15 are dropped at once.
    assert.equal(w.totals().dropped, 15);
    await w.flush();
    assert.deepEqual(w.totals(), { enqueued: 25, delivered: 0, retried: 20, dropped: 15, failed: 10, queued: 0 });
    assert.equal(r.requests(), 30);
  });

  it('refuses non-http URLs', () => {
    assert.throws(() => new WebhookSender(['ftp://127.0.0.1/x']), /http/);
  });
});
