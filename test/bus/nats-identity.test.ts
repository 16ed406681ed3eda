/**
 * Issue 12, finding 7: who may speak for a node on NATS. Against a real
 * nats-server on loopback, a client that may publish forges another
 * publisher's `Nats-Msg-Id` with a huge seq, sends node ids that break the
 * documented pattern, and events whose node id disagrees with their subject;
 * `peer-observer log --nats` (the real bin) must refuse and count all of it and
 * still print every event of the victim. Then docs/bus.md's `authorization`
 * block, read from the doc, on a real server: an observer's credentials cannot
 * publish under another node id, and the documented reader cannot publish.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect, headers, type Msg } from '@nats-io/transport-node';
import { NatsBus } from '../../src/bus/nats.js';
import { DurableConsumer } from '../../src/bus/durable.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { docNatsAuthorization, docPassword } from '../helpers/doc-blocks.js';
import { startCli, type Cli } from '../cli/helpers.js';
import { until } from '../helpers/until.js';
import { pingEvent } from '../helpers/events.js';

const servers: NatsServer[] = [];
const clis: Cli[] = [];
// Closed even when a test fails half-way: a client left reconnecting to a stopped server keeps the process alive.
const clients: { close(): Promise<unknown> }[] = [];
const client = <T extends { close(): Promise<unknown> }>(c: T): T => (clients.push(c), c);
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(clis.map((c) => c.stop('SIGKILL')));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

describe('NATS identity (real nats-server, real bin)', { timeout: 60_000 }, () => {
  it('one publisher cannot silence another, nor speak with a bad or another node id', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const log = startCli(['log', '--nats', server.url, '--json']);
    clis.push(log);
    await log.until(() => log.stderr().includes('logging from NATS'), 'consumer ready', 15_000);

    // The attacker reads the victim's ids off the wire, as any subscriber can.
    const raw = client(await connect({ servers: server.url }));
    const seen: Msg[] = [];
    raw.subscribe('po.v1.victim.>', { callback: (_e, m) => void seen.push(m) });
    await raw.flush();
    const victim = client(await NatsBus.connect({ servers: [server.url] }));
    for (let i = 0; i < 10; i++) victim.publish(pingEvent('victim', i));
    await victim.drain();
    await until(() => seen.length > 0, 'the victim on the wire');
    const id = seen[0]!.headers!.get('Nats-Msg-Id');
    const [node, publisher] = id.split('.');
    assert.equal(node, 'victim', `the id names the node it is published for: ${id}`);

    const send = (subject: string, msgId: string | null, event: unknown) => {
      const h = headers();
      if (msgId) h.set('Nats-Msg-Id', msgId);
      h.set('Po-Batch', 'v1 1');
      raw.publish(subject, new TextEncoder().encode(JSON.stringify(event)), { headers: h });
    };
    const huge = Number.MAX_SAFE_INTEGER - 10;
    // A publisher allowed on its own subjects forges the victim's id with a huge seq ...
    send('po.v1.evil.ping.latency', `victim.${publisher}.${huge}`, pingEvent('evil', 1));
    // ... and in the first id format (no node), which is scoped by the subject's node instead.
    send('po.v1.evil.ping.latency', `${publisher}.${huge}`, pingEvent('evil', 2));
    // Without per-subject permissions it could even use the victim's subject: still not a silencer.
    send('po.v1.victim.ping.latency', `victim.${publisher}.${huge}`, pingEvent('victim', 999));
    // Node ids that break the documented pattern, or disagree with the subject.
    send('po.v1.evil.ping.latency', null, pingEvent('../../etc\n\x1b[2J', 3));
    send('po.v1.evil.ping.latency', 'evil.X.1', { ...pingEvent('evil', 4), nodeId: '../../etc\n\x1b[2J' });
    send('po.v1.evil.ping.latency', 'evil.X.2', pingEvent('victim', 5));
    send('po.v1.evil.violation', 'evil.X.3', pingEvent('evil', 6));
    await raw.flush();

    for (let i = 10; i < 20; i++) victim.publish(pingEvent('victim', i));
    await victim.close();
    const ids = () =>
      log
        .events()
        .filter((e) => e.nodeId === 'victim')
        .map((e) => (e.data as { conn: { id: number } }).conn.id);
    await log.until(() => ids().filter((i) => i >= 10 && i < 20).length === 10, "the victim's later events", 10_000);
    assert.equal(await log.stop('SIGTERM'), 0);
    const all = ids().sort((a, b) => a - b);
    assert.deepEqual(
      all,
      [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i + 10), 999].sort((a, b) => a - b),
      'every victim event exactly once (999: the unprotected-subject forgery, delivered, not a silencer)',
    );
    const nodes = new Set(log.events().map((e) => e.nodeId));
    assert.deepEqual([...nodes].sort(), ['evil', 'victim'], 'no event with a broken node id');
    const evil = log.events().filter((e) => e.nodeId === 'evil');
    assert.deepEqual(
      evil.map((e) => (e.data as { conn: { id: number } }).conn.id),
      [2],
      "only the attacker's own event with an id in its own scope",
    );
    assert.match(log.stderr(), /peer-observer: log: received=\d+ decoded=\d+ rejected=4 dropped=0\n/);
    assert.match(log.stderr(), /peer-observer: log: refused forged=1 late=\d+\n/);
    assert.ok(!log.stdout().includes(String.fromCharCode(27)), 'no escape character reached the terminal');
    await raw.close();
  });

  it("with docs/bus.md's core permissions, an observer's credentials cannot publish under another node id", async () => {
    const server = await startNatsServer({ config: [docNatsAuthorization(['fra-1', 'reader'])] });
    servers.push(server);
    const url = (user: string) => `nats://${user}:${docPassword(user)}@127.0.0.1:${server.port}`;
    const log = startCli(['log', '--nats', url('reader'), '--json']);
    clis.push(log);
    await log.until(() => log.stderr().includes('logging from NATS'), 'consumer ready', 15_000);

    const fra = client(await NatsBus.connect({ servers: [url('fra-1')] }));
    for (let i = 0; i < 5; i++) fra.publish(pingEvent('fra-1', i));
    for (let i = 0; i < 5; i++) fra.publish(pingEvent('nyc-1', i));
    for (let i = 5; i < 10; i++) fra.publish(pingEvent('fra-1', i));
    await fra.drain();
    await until(
      () => /Permissions Violation for Publish to "po\.v1\.nyc-1\.ping\.latency"/.test(fra.stats().lastError ?? ''),
      'the refusal',
    );
    await fra.close();
    // The reader itself cannot publish at all.
    const reader = client(await connect({ servers: server.url, user: 'reader', pass: docPassword('reader') }));
    const refused: string[] = [];
    void (async () => {
      for await (const st of reader.status()) if (st.type === 'error') refused.push(st.error.message);
    })();
    reader.publish('po.v1.fra-1.ping.latency', new TextEncoder().encode(JSON.stringify(pingEvent('fra-1', 77))));
    await reader.flush();
    await until(
      () => refused.some((e) => /Permissions Violation for Publish to "po\.v1\.fra-1\.ping\.latency"/.test(e)),
      "the reader's refusal",
    );
    await reader.close();

    await log.until(() => log.events().filter((e) => e.nodeId === 'fra-1').length >= 10, "fra-1's events", 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await log.stop('SIGTERM'), 0);
    const byNode = (n: string) =>
      log
        .events()
        .filter((e) => e.nodeId === n)
        .map((e) => (e.data as { conn: { id: number } }).conn.id);
    assert.deepEqual(byNode('fra-1'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(byNode('nyc-1'), [], "fra-1's credentials never spoke for nyc-1");
  });

  it("with docs/bus.md's JetStream permissions: the observer creates the stream and publishes its own events, not another node's; the consumer reads", async () => {
    const server = await startNatsServer({ jetstream: true, config: [docNatsAuthorization(['fra-1', 'archive'])] });
    servers.push(server);
    const url = (user: string) => `nats://${user}:${docPassword(user)}@127.0.0.1:${server.port}`;
    const fra = client(await NatsBus.connect({ servers: [url('fra-1')], mode: 'jetstream' }));
    assert.match(fra.notice, /created stream PEER_OBSERVER/);
    for (let i = 0; i < 10; i++) fra.publish(pingEvent('fra-1', i));
    await fra.drain();
    assert.equal(fra.stats().acked, 10);
    await fra.close();
    // The same credentials under another node id: the server refuses the publish, the stream never has it.
    const raw = client(await connect({ servers: server.url, user: 'fra-1', pass: docPassword('fra-1') }));
    const errors: string[] = [];
    void (async () => {
      for await (const st of raw.status()) if (st.type === 'error') errors.push(st.error.message);
    })();
    raw.publish('po.v1.nyc-1.ping.latency', new TextEncoder().encode(JSON.stringify(pingEvent('nyc-1', 1))));
    await raw.flush();
    await until(() => errors.some((e) => /Permissions Violation for Publish to "po\.v1\.nyc-1\.ping\.latency"/.test(e)), 'the refusal');
    await raw.close();
    const reader = client(
      await DurableConsumer.open({
        servers: [url('archive')],
        consumer: 'archive-default',
        start: { kind: 'all' },
        ackOnDelivery: true,
      }),
    );
    const got: ObserverEvent[] = [];
    const it = reader.subscribe()[Symbol.asyncIterator]();
    while (got.length < 10) got.push((await it.next()).value as ObserverEvent);
    await until(() => reader.stats().acked >= 1, 'acknowledgements');
    const behind = await reader.position();
    await reader.close();
    assert.deepEqual(
      got.map((e) => [e.nodeId, (e.data as { conn: { id: number } }).conn.id]),
      Array.from({ length: 10 }, (_, i) => ['fra-1', i]),
    );
    assert.equal(behind, 0, 'nothing else in the stream (no nyc-1 event)');
  });
});
