/** `run --collective*` settings: each from flags, the environment and the config file, and what each needs. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadRunConfig } from '../../src/cli/config.js';
import { natsCredentials } from '../../src/collective/member.js';

describe('run --collective settings', () => {
  it('flags: URL (credentials kept), key, trust, k and window', () => {
    const c = loadRunConfig({
      flags: {
        collective: ['nats://alice:secret@127.0.0.1:4333'],
        collectiveKey: 'a.pem',
        collectiveTrust: 'collective.json',
        collectiveMinMembers: '3',
        collectiveWindow: '120',
      },
      env: {},
    });
    assert.deepEqual(c.collective, {
      servers: ['nats://alice:secret@127.0.0.1:4333'],
      keyFile: 'a.pem',
      trustFile: 'collective.json',
      minMembers: 3,
      windowMs: 120_000,
    });
    assert.deepEqual(natsCredentials(c.collective!.servers), { servers: ['nats://127.0.0.1:4333'], user: 'alice', pass: 'secret' });
  });

  it('environment and config file; defaults k = 2, 600 s; off without --collective', () => {
    const env = {
      PEER_OBSERVER_COLLECTIVE: '127.0.0.1:4333,127.0.0.2:4333',
      PEER_OBSERVER_COLLECTIVE_KEY: 'k.pem',
      PEER_OBSERVER_COLLECTIVE_TRUST: 't.json',
    };
    assert.deepEqual(loadRunConfig({ flags: {}, env }).collective, {
      servers: ['nats://127.0.0.1:4333', 'nats://127.0.0.2:4333'],
      keyFile: 'k.pem',
      trustFile: 't.json',
      minMembers: 2,
      windowMs: 600_000,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'po-collective-config-')), 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        collective: ['nats://h:1'],
        collectiveKey: 'k',
        collectiveTrust: 't',
        collectiveMinMembers: 4,
        collectiveWindow: 30,
      }),
    );
    const fromFile = loadRunConfig({
      flags: {},
      env: { PEER_OBSERVER_COLLECTIVE_MIN_MEMBERS: '5', PEER_OBSERVER_COLLECTIVE_WINDOW: '45' },
      configFile: file,
    });
    assert.equal(fromFile.collective!.minMembers, 5);
    assert.equal(fromFile.collective!.windowMs, 45_000);
    assert.equal(loadRunConfig({ flags: {}, env: {} }).collective, null);
  });

  it('refuses what cannot work, naming the flag', () => {
    const bad = (flags: Record<string, unknown>, re: RegExp) => assert.throws(() => loadRunConfig({ flags: flags as never, env: {} }), re);
    bad({ collectiveKey: 'k' }, /--collective-key needs --collective/);
    bad({ collectiveWindow: '10' }, /--collective-window needs --collective/);
    bad({ collective: ['nats://h:1'], collectiveTrust: 't' }, /--collective needs --collective-key/);
    bad({ collective: ['nats://h:1'], collectiveKey: 'k' }, /--collective needs --collective-trust/);
    bad({ collective: ['http://h:1'], collectiveKey: 'k', collectiveTrust: 't' }, /nats:\/\//);
    bad({ collective: ['nats://h:1'], collectiveKey: 'k', collectiveTrust: 't', collectiveMinMembers: '0' }, /collective-min-members/);
  });
});
