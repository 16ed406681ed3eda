/**
 * Issue 14: the detectors, metrics and HTTP consumers of `run --nats` read the
 * JetStream stream through a durable consumer (src/bus/fanout.ts,
 * src/cli/run-consumer.ts). Real nats-server -js, the real bin:
 *
 * - a consumer-only process (`run --nats URL --no-p2p --http`: detectors,
 *   metrics, dashboard) SIGKILLed while an observer publishes 5,000 events/s,
 *   then restarted: it resumes at the server's acknowledgement floor. What the
 *   first run acknowledged (counted from the stream itself, up to the floor)
 *   plus what the second run's metrics count is exactly what the observer
 *   published and the stream acknowledged: nothing lost, nothing counted twice.
 *   (A consumer's counters live in memory and restart at 0 with the process,
 *   as Prometheus counters do; what is exact is the hand-over at the floor.)
 * - in core mode the same process subscribes as before and says so in one line.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, startPublisher, type NatsServer, type PublisherProcess } from '../helpers/nats-server.js';
import { startCli, type Cli } from '../cli/helpers.js';
import { docNatsAuthorization, docPassword } from '../helpers/doc-blocks.js';
import { BATCH_HEADER, parseBatch } from '../../src/bus/seq.js';
import { NatsBus } from '../../src/bus/nats.js';
import { makeEvent } from '../../src/events/envelope.js';
import { pingEvent } from '../helpers/events.js';
import { DurableConsumer } from '../../src/bus/durable.js';
import { DurableFanout } from '../../src/bus/fanout.js';
import { until } from '../helpers/until.js';

const servers: NatsServer[] = [];
const clis: Cli[] = [];
const publishers: PublisherProcess[] = [];
after(async () => {
  await Promise.all(clis.map((c) => c.stop('SIGKILL')));
  await Promise.all(publishers.map((p) => p.kill()));
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
  });
}

/** `peer_observer_events_total{type="ping.latency"}` of the consumer's /metrics (0 before the first). */
async function pings(port: number): Promise<number> {
  const m = /^peer_observer_events_total\{type="ping\.latency"\} (\d+)$/m.exec(await fetchText(port, '/metrics'));
  return m ? Number(m[1]) : 0;
}

function consumerCli(url: string, extra: string[] = []): Cli {
  const cli = startCli(['run', '--nats', url, '--no-p2p', '--node-id', 'central', '--http', '127.0.0.1:0', ...extra]);
  clis.push(cli);
  return cli;
}

async function httpPort(cli: Cli): Promise<number> {
  await cli.until(() => /HTTP at http:\/\/\S+:\d+/.test(cli.stderr()), 'HTTP line', 20_000);
  return Number(/HTTP at http:\/\/\S+?:(\d+)/.exec(cli.stderr())![1]);
}

describe(
  'run --nats --no-p2p: a durable consumer for detectors, metrics and HTTP (real nats-server -js, real bin)',
  { timeout: 120_000 },
  () => {
    it('SIGKILLed while an observer publishes, restarted: every event counted exactly once across the two runs', async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const args = ['--consumer-name', 'ops', '--since', 'start'];
      let consumer = consumerCli(server.url, args);
      let port = await httpPort(consumer);
      assert.match(consumer.stderr(), /new durable consumer run-ops on stream PEER_OBSERVER, from the start of the stream/);
      assert.match(consumer.stderr(), /without a p2p node \(--no-p2p\); consuming from NATS at /);
      const count = 25_000;
      // 5,000 events/s for 5 s.
      const pub = startPublisher({ servers: [server.url], nodeId: 'obs-1', count, batch: 50, intervalMs: 10, mode: 'jetstream' });
      publishers.push(pub);
      await until(async () => (await pings(port)) > 4000, 'the consumer counting', 20_000);
      consumer.child.kill('SIGKILL');
      await consumer.exited;

      // What the killed run acknowledged: the server's floor, and the observer's events in the stream up to it.
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      // Acknowledgements the killed process had already written to its socket may still reach the server: read the
      // floor until it holds still.
      const floorNow = async () => (await jsm.consumers.info('PEER_OBSERVER', 'run-ops')).ack_floor.stream_seq;
      let floor = await floorNow();
      for (let again = -1; again !== floor;) {
        await new Promise((r) => setTimeout(r, 300));
        [again, floor] = [floor, await floorNow()];
      }
      let ackedByFirst = 0;
      for (let seq = 1; seq <= floor; seq++) {
        const m = (await jsm.streams.getMessage('PEER_OBSERVER', { seq }))!;
        if (m.subject === 'po.v1.obs-1.ping.latency') ackedByFirst += parseBatch(m.header.get(BATCH_HEADER))!.count;
      }
      assert.ok(ackedByFirst > 0 && ackedByFirst < count, `killed mid-stream (${ackedByFirst} acknowledged)`);

      consumer = consumerCli(server.url, args);
      port = await httpPort(consumer);
      assert.match(consumer.stderr(), /resuming durable consumer run-ops on stream PEER_OBSERVER (at|after) stream seq \d+/);
      const done = await pub.until((l) => l.done === true, 'published', 60_000);
      assert.equal(done.stats.acked, count, 'every event acknowledged by the stream');
      assert.equal(done.stats.dropped, 0);
      await until(async () => (await pings(port)) >= count - ackedByFirst, 'the consumer caught up', 40_000);
      // A duplicate would come now.
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(await pings(port), count - ackedByFirst, 'the second run counts exactly what the first did not acknowledge');
      const metrics = await fetchText(port, '/metrics');
      assert.doesNotMatch(metrics, /^peer_observer_consumer_dropped_events\{[^}]*\} [1-9]/m, 'no local consumer dropped an event');
      const health = JSON.parse(await fetchText(port, '/healthz')) as {
        nats: { mode: string; consumer: { name: string; missed: number } };
      };
      assert.equal(health.nats.mode, 'jetstream');
      assert.equal(health.nats.consumer.name, 'run-ops');
      assert.equal(health.nats.consumer.missed, 0);
      assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr());
      assert.match(
        consumer.stderr(),
        /nats consumer run-ops: received=\d+ decoded=\d+ duplicates=\d+ rejected=0 acked=\d+ behind=0 missed=0\n/,
      );
      // Every message of the observer was acknowledged by the clean stop (what comes after it, the consumer's own last
      // counters, waits for its next start).
      const info = await jsm.consumers.info('PEER_OBSERVER', 'run-ops');
      const last = (await jsm.streams.getMessage('PEER_OBSERVER', { last_by_subj: 'po.v1.obs-1.ping.latency' }))!;
      assert.ok(
        info.ack_floor.stream_seq >= last.seq,
        `acknowledged through ${info.ack_floor.stream_seq}, the observer's last is ${last.seq}`,
      );
      await nc.close();
    });

    it('a message is acknowledged only after every local consumer has taken its events', async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream' });
      const durable = await DurableConsumer.open({ servers: [server.url], consumer: 'fan', start: { kind: 'all' } });
      const fanout = new DurableFanout(durable, bus, 4);
      const fast = fanout.subscribe({ types: ['ping.latency'] });
      const slow = fanout.subscribe({ types: ['ping.latency'] });
      const took: number[] = [];
      const fastLoop = (async () => {
        for await (const e of fast) took.push((e.data as { conn: { id: number } }).conn.id);
      })();
      fanout.start();
      for (let i = 0; i < 10; i++) bus.publish(pingEvent('obs-4', i));
      await bus.drain();
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      const acked = async () => (await jsm.consumers.info('PEER_OBSERVER', 'fan')).ack_floor.stream_seq;
      await until(() => took.length >= 4, 'the fast consumer taking', 10_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await acked(), 0, 'nothing acknowledged while the slow consumer has not taken its events');
      assert.ok(took.length < 10, `the fanout waits for the slowest consumer (${took.length} handed over)`);
      const slowIt = slow[Symbol.asyncIterator]();
      for (let i = 0; i < 10; i++) assert.equal(((await slowIt.next()).value!.data as { conn: { id: number } }).conn.id, i);
      await until(() => took.length === 10, 'the rest handed over', 10_000);
      const last = (await jsm.streams.getMessage('PEER_OBSERVER', { last_by_subj: 'po.v1.obs-4.ping.latency' }))!.seq;
      await until(async () => (await acked()) >= last, 'acknowledged once both took them', 10_000);
      await fanout.close();
      await fastLoop;
      await bus.close();
      await nc.close();
    });

    it('detectors started after an attack get it from the stream, each event once; restarted, they do not see it again', async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream' });
      const attacker = '127.0.0.7:5000';
      const attack = (n: number) => {
        for (let i = 0; i < n; i++)
          bus.publish(
            makeEvent({ nodeId: 'obs-3', source: 'p2p' }, 'violation', {
              conn: { id: 7, direction: 'inbound', remote: attacker },
              kind: 'bad-checksum',
              action: 'drop-message',
              detail: `checksum ${i}`,
            }),
          );
      };
      attack(40);
      await bus.drain();
      interface Alerts {
        alerts: { detector: string; subject: { id: string }; evidence: { counts: Record<string, number> } }[];
      }
      const violations = async (port: number): Promise<number | undefined> => {
        const a = JSON.parse(await fetchText(port, '/api/alerts?detector=malformed-burst')) as Alerts;
        return a.alerts.find((x) => x.subject.id === attacker)?.evidence.counts.violations;
      };
      const args = ['--consumer-name', 'det', '--since', '-1h'];
      let consumer = consumerCli(server.url, args);
      let port = await httpPort(consumer);
      assert.match(consumer.stderr(), /new durable consumer run-det on stream PEER_OBSERVER, from \d{4}-/);
      await until(async () => (await violations(port)) === 40, 'the alert, from the stream', 20_000);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(await violations(port), 40, 'each violation counted once');
      assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr());

      // Restarted: it resumes after what it acknowledged; only the new violations count.
      consumer = consumerCli(server.url, args);
      port = await httpPort(consumer);
      assert.match(consumer.stderr(), /resuming durable consumer run-det/);
      attack(10);
      await bus.drain();
      await until(async () => (await violations(port)) === 10, 'the new alert', 20_000);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(await violations(port), 10, 'the first 40 were not delivered again');
      assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr());
      await bus.close();
    });

    it('an observer whose NATS user may only publish goes on with core subscriptions, said in one line; --no-p2p refuses', async () => {
      // docs/bus.md's observer user, as documented.
      const server = await startNatsServer({ jetstream: true, config: [docNatsAuthorization(['fra-1'])] });
      servers.push(server);
      const url = `nats://fra-1:${docPassword('fra-1')}@127.0.0.1:${server.port}`;
      const observer = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--node-id', 'fra-1', '--nats', url]);
      clis.push(observer);
      await observer.until(() => /listening on 127\.0\.0\.1:\d+/.test(observer.stderr()), 'the observer running', 30_000);
      assert.match(
        observer.stderr(),
        /NATS JetStream consumer run-fra-1 on stream PEER_OBSERVER: .*: the consumers here subscribe to NATS directly \(core: they miss what is published while they are away\)\n/,
      );
      assert.ok(!observer.stderr().includes(docPassword('fra-1')), 'credentials never printed');
      assert.equal(await observer.stop('SIGTERM'), 0, observer.stderr());
      const consumer = startCli(['run', '--nats', url, '--no-p2p', '--node-id', 'fra-1']);
      clis.push(consumer);
      assert.equal(await consumer.exited, 1, consumer.stderr());
      assert.match(consumer.stderr(), /NATS JetStream consumer run-fra-1 on stream PEER_OBSERVER: /);
      assert.ok(!consumer.stderr().includes(docPassword('fra-1')));
    });

    it('a consumer deleted on the server under a running process: /healthz says so (degraded), the process stays up', async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const consumer = consumerCli(server.url, ['--consumer-name', 'gone']);
      const port = await httpPort(consumer);
      const healthz = async () =>
        JSON.parse(await fetchText(port, '/healthz')) as { status: string; reasons?: { component: string; reason: string }[] };
      assert.equal((await healthz()).status, 'ok');
      const nc = await connect({ servers: server.url });
      await (await jetstreamManager(nc)).consumers.delete('PEER_OBSERVER', 'run-gone');
      await nc.close();
      // The consumer's position is asked every 5 s.
      await until(async () => (await healthz()).status === 'degraded', '/healthz degraded', 15_000);
      const h = await healthz();
      assert.ok(
        h.reasons?.some((r) => r.component === 'nats-consumer' && /durable consumer run-gone: .*consumer not found/i.test(r.reason)),
        JSON.stringify(h),
      );
      assert.equal(consumer.child.exitCode, null, 'still running');
      assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr());
    });

    it('core mode: the consumers subscribe to NATS as before, and the start-up line says what that means', async () => {
      const server = await startNatsServer({ jetstream: true });
      servers.push(server);
      const consumer = consumerCli(server.url, ['--nats-mode', 'core']);
      const port = await httpPort(consumer);
      assert.match(
        consumer.stderr(),
        /NATS: core mode \(no JetStream stream\): an event reaches only the consumers subscribed when it is published/,
      );
      assert.doesNotMatch(consumer.stderr(), /durable consumer/);
      const pub = startPublisher({ servers: [server.url], nodeId: 'obs-2', count: 500, batch: 50, intervalMs: 10, mode: 'core' });
      publishers.push(pub);
      await pub.until((l) => l.done === true, 'published', 30_000);
      await until(async () => (await pings(port)) >= 500, 'the consumer counting', 15_000);
      assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr());
    });
  },
);
