/**
 * `peer-observer collective hub-setup` against a real nats-server running the
 * shipped hub configuration (without its stream): it creates the reports
 * stream from the trust file's limits, `--check` compares, an edited trust file
 * updates it, and the server then holds a member to the new quota. The shipped
 * reports-stream.json is what hub-setup makes of the default limits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { hubStreamConfig } from '../../src/collective/hub.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import { hubPassword, shippedStreamConfig, startCollectiveHub, type CollectiveHub } from '../helpers/collective-hub.js';
import { runCli } from './helpers.js';

describe('collective hub-setup (the shipped hub on a real nats-server)', () => {
  let hub: CollectiveHub;
  const dir = mkdtempSync(join(tmpdir(), 'po-hub-setup-'));
  const trust = join(dir, 'collective.json');
  const writeTrust = (limits: Record<string, number>) =>
    writeFileSync(
      trust,
      JSON.stringify({ collective: 'c', limits, members: [{ name: 'alice', keys: [{ publicKey: generateKeyPair().publicKey }] }] }),
    );
  const setup = (...args: string[]) => runCli(['collective', 'hub-setup', '--server', hub.url('operator'), '--trust', trust, ...args]);

  before(async () => {
    hub = await startCollectiveHub({ stream: false });
  });
  after(async () => {
    await hub?.stop();
  });

  it('deploy/collective/reports-stream.json is what hub-setup makes of the default limits', () => {
    assert.deepEqual(shippedStreamConfig(), hubStreamConfig());
  });

  it('creates the stream, checks it, updates it to an edited trust file; the server then holds a member to the new quota', async () => {
    writeTrust({});
    const missing = await setup('--check');
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /stream COLLECTIVE does not exist/);

    const created = await setup();
    assert.equal(created.code, 0, created.stderr);
    assert.equal(
      created.stdout,
      'created: COLLECTIVE, collective.in.* → collective.reports.*, 60 reports a minute per member, each at most 65536 bytes\n',
    );
    const checked = await setup('--check');
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^checked: COLLECTIVE as .* says: 60 reports a minute per member/);

    writeTrust({ maxReportsPerMinute: 5, maxReportBytes: 4096 });
    const differs = await setup('--check');
    assert.equal(differs.code, 1);
    assert.match(differs.stderr, /differs from .*: max_msgs_per_subject: 60 → 5; max_msg_size: 65536 → 4096/);
    const updated = await setup();
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(
      updated.stdout,
      /^updated \(max_msgs_per_subject: 60 → 5; max_msg_size: 65536 → 4096\): .* 5 reports a minute per member, each at most 4096 bytes/,
    );
    assert.match((await setup()).stdout, /^checked, as asked: /);

    // The server holds alice to 5, and refuses a report over 4096 bytes (the stream's own limit, below max_payload).
    const alice = await connect({ servers: hub.server.url, user: 'alice', pass: hubPassword('alice') });
    const got: string[] = [];
    const bob = await connect({ servers: hub.server.url, user: 'bob', pass: hubPassword('bob') });
    bob.subscribe('collective.reports.*', { callback: (_e, m) => void got.push(m.string()) });
    await bob.flush();
    alice.publish('collective.in.alice', 'y'.repeat(5000));
    for (let i = 0; i < 8; i++) alice.publish('collective.in.alice', `r${i}`);
    await alice.flush();
    for (const deadline = Date.now() + 5000; got.length < 5 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got, ['r0', 'r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(await hub.held(), { 'collective.in.alice': 5 });
    await alice.close();
    await bob.close();
  });

  it('refuses a member user (no JetStream for it) and an unreadable trust file, each with one line', async () => {
    writeTrust({});
    const member = await runCli(['collective', 'hub-setup', '--server', hub.url('alice'), '--trust', trust]);
    assert.equal(member.code, 1);
    assert.match(member.stderr, /the hub has no JetStream for this user/);
    const noTrust = await runCli(['collective', 'hub-setup', '--server', hub.url('operator'), '--trust', join(dir, 'nope.json')]);
    assert.equal(noTrust.code, 2);
    assert.match(noTrust.stderr, /--trust: .*nope\.json: cannot read: no such file/);
  });
});
