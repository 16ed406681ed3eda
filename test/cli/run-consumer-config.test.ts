/**
 * `run`'s consumer settings (src/cli/config.ts consumeConfig): --no-p2p, --consumer-name, --since, each from the
 * flags, the environment and the config file, and the refusals, in one line naming the setting. What they do on a
 * real nats-server: test/bus/jetstream-run.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { consumerNameOf, loadRunConfig } from '../../src/cli/config.js';
import { UsageError } from '../../src/cli/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'po-consume-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NATS = 'nats://127.0.0.1:4222';

describe('run: --no-p2p, --consumer-name, --since', () => {
  it('defaults: the p2p node on; the durable consumer run-<node id>, new events only', () => {
    const c = loadRunConfig({ flags: { nats: [NATS], nodeId: 'fra-1' }, env: {} });
    assert.equal(c.p2p, true);
    assert.deepEqual(c.stream, { consumer: 'run-fra-1', start: { kind: 'new' } });
    assert.equal(c.listen.length, 1);
  });

  it('flags: --no-p2p means no listener; --consumer-name and --since', () => {
    const c = loadRunConfig({ flags: { nats: [NATS], p2p: false, consumerName: 'ops', since: 'start' }, env: {} });
    assert.equal(c.p2p, false);
    assert.deepEqual(c.listen, []);
    assert.deepEqual(c.connect, []);
    assert.deepEqual(c.stream, { consumer: 'run-ops', start: { kind: 'all' } });
    const t = loadRunConfig({ flags: { nats: [NATS], since: '2024-06-01T12:00:00Z' }, env: {} });
    assert.deepEqual(t.stream.start, { kind: 'time', sinceUs: Date.parse('2024-06-01T12:00:00Z') * 1000 });
  });

  it('the environment and the config file, flags winning', () => {
    const env = { PEER_OBSERVER_NATS: NATS, PEER_OBSERVER_P2P: 'false', PEER_OBSERVER_CONSUMER_NAME: 'env', PEER_OBSERVER_SINCE: 'new' };
    const e = loadRunConfig({ flags: {}, env });
    assert.equal(e.p2p, false);
    assert.deepEqual(e.stream, { consumer: 'run-env', start: { kind: 'new' } });
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ nats: [NATS], p2p: false, consumerName: 'file', since: 'start' }));
    const f = loadRunConfig({ flags: {}, env: {}, configFile: file });
    assert.equal(f.p2p, false);
    assert.deepEqual(f.stream, { consumer: 'run-file', start: { kind: 'all' } });
    const both = loadRunConfig({
      flags: { consumerName: 'flag', p2p: true },
      env: { PEER_OBSERVER_CONSUMER_NAME: 'env' },
      configFile: file,
    });
    assert.equal(both.p2p, true);
    assert.equal(both.stream.consumer, 'run-flag');
  });

  it('a node id that is not a consumer name becomes one, distinct from look-alikes', () => {
    assert.equal(consumerNameOf('fra-1'), 'fra-1');
    assert.match(consumerNameOf('fra.1'), /^fra_1_[0-9a-f]{8}$/);
    assert.notEqual(consumerNameOf('fra.1'), consumerNameOf('fra_1'));
    const long = 'x'.repeat(64);
    assert.ok(consumerNameOf(long).length <= 32);
    assert.notEqual(consumerNameOf(long), consumerNameOf('x'.repeat(63)));
    assert.equal(loadRunConfig({ flags: { nats: [NATS], nodeId: 'a.b' }, env: {} }).stream.consumer, `run-${consumerNameOf('a.b')}`);
  });

  it('refusals name the setting', () => {
    const refuses = (o: Parameters<typeof loadRunConfig>[0], re: RegExp) =>
      assert.throws(
        () => loadRunConfig(o),
        (e: unknown) => e instanceof UsageError && re.test(e.message),
      );
    refuses({ flags: { p2p: false }, env: {} }, /--no-p2p needs --nats .* or a Core source/);
    refuses({ flags: { p2p: false, nats: [NATS], listen: ['127.0.0.1:0'] }, env: {} }, /--listen needs the p2p node \(not --no-p2p\)/);
    refuses({ flags: { p2p: false, nats: [NATS], connect: ['127.0.0.1:8333'] }, env: {} }, /--connect needs the p2p node/);
    refuses({ flags: { consumerName: 'ops' }, env: {} }, /--consumer-name needs --nats/);
    refuses({ flags: { since: 'start' }, env: {} }, /--since needs --nats/);
    refuses({ flags: { nats: [NATS], consumerName: 'a b' }, env: {} }, /--consumer-name "a b": expected 1-32 letters/);
    refuses({ flags: { nats: [NATS], since: 'yesterday' }, env: {} }, /--since/);
    refuses({ flags: { nats: [NATS], natsMode: 'core', since: 'start' }, env: {} }, /--since needs a JetStream stream/);
    refuses({ flags: {}, env: { PEER_OBSERVER_P2P: 'maybe' } }, /PEER_OBSERVER_P2P "maybe": expected true or false/);
  });
});
