/**
 * Issue 12, finding 3, through the real bin: inbound slots cannot be taken over.
 * - 125 handshaked peers answering pings from 16 addresses in one /16 (and
 *   reconnecting when dropped): an honest peer from another netgroup still
 *   connects and completes its handshake within 5 s, by Core's eviction (the
 *   per-netgroup cap raised out of the way) and by the per-netgroup cap (defaults).
 * - 500 slowloris connections (1 byte every 3 s, reconnecting when dropped) from
 *   50 netgroups: an honest peer still handshakes within 5 s (the handshake-slot
 *   budget).
 * Before: the honest peer was refused (`limit`) for as long as the attack lasted.
 * The attackers and the honest peer are simulated peers in this process on
 * loopback source addresses (127.x.y.z); the observer is the real bin.
 */
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeFrame } from '../../src/protocol/framing.js';
import { encodePayload } from '../../src/protocol/messages/index.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { handshake, SimPeer, sleep, versionMessage } from '../../src/simulate/kit.js';
import { type Cli, listeningPort, ofType, runCli, startCli } from './helpers.js';

const network = NETWORKS.regtest;
const children: Cli[] = [];
const attacks: AbortController[] = [];
after(async () => {
  for (const a of attacks) a.abort();
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

async function observer(extra: string[], env?: Record<string, string>): Promise<{ cli: Cli; port: number }> {
  const cli = startCli(
    ['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--node-id', 'target', ...extra],
    env ? { env } : {},
  );
  children.push(cli);
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening');
  return { cli, port: listeningPort(cli.stderr())! };
}

/**
 * Keep `sources.length` connections, each from its source address, reconnecting
 * 50 ms after a drop; `run` is what each does once connected.
 */
function attack(sources: string[], port: number, run: (peer: SimPeer, signal: AbortSignal) => Promise<void>) {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one listener per attacking connection
  attacks.push(ac);
  const live = new Set<SimPeer>();
  const loops = sources.map(async (localAddress) => {
    while (!ac.signal.aborted) {
      let peer: SimPeer | undefined;
      try {
        peer = await SimPeer.open({ network, host: '127.0.0.1', port, localAddress, signal: ac.signal });
        live.add(peer);
        await run(peer, ac.signal);
        await Promise.race([peer.closed, sleep(2 ** 31 - 1, ac.signal)]);
      } catch {
        // refused or reset: try again
      } finally {
        if (peer) {
          live.delete(peer);
          await peer.destroy();
        }
      }
      await sleep(50, ac.signal);
    }
  });
  return {
    live,
    stop: async () => {
      ac.abort();
      await Promise.all(loops);
    },
  };
}

/** The honest peer: connect from `source`, handshake; the observer must see it complete within 5 s. */
async function honest(cli: Cli, port: number, source: string): Promise<{ peer: SimPeer; ms: number }> {
  const t0 = performance.now();
  const peer = await SimPeer.open({ network, host: '127.0.0.1', port, localAddress: source });
  assert.ok(await handshake(peer, { timeoutMs: 5000 }), 'the honest peer got our verack');
  const remote = `${source}:`;
  await cli.until(
    () => ofType(cli.events(), 'handshake.complete').some((e) => String((e.data?.conn as { remote: string }).remote).startsWith(remote)),
    'the observer completes the honest handshake',
    Math.max(1, 5000 - (performance.now() - t0)),
  );
  return { peer, ms: performance.now() - t0 };
}

const takeoverSources = Array.from({ length: 128 }, (_, i) => `127.77.0.${1 + (i % 16)}`);

describe('inbound slots cannot be taken over', { timeout: 120_000 }, () => {
  it("125 polite peers from one /16 (cap raised): Core's eviction lets an honest peer from another netgroup in within 5 s", async () => {
    const { cli, port } = await observer(['--max-per-netgroup', '1000', '--max-connections', '125']);
    const a = attack(takeoverSources, port, async (peer) => {
      await handshake(peer);
    });
    await cli.until(
      () => ofType(cli.events(), 'handshake.complete').length >= 125 && a.live.size >= 125,
      '125 attacker handshakes',
      30_000,
    );
    const { peer, ms } = await honest(cli, port, '127.99.0.1');
    assert.ok(ms < 5000, `handshake in ${Math.round(ms)} ms`);
    // The attackers keep reconnecting, each new one evicting one of theirs; the honest peer stays.
    await sleep(1500);
    assert.ok(peer.isOpen, 'the honest peer is still connected');
    const evicted = ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'evicted');
    // (While 128 connect at once, some are also evicted by the handshake budget: evictedFor handshake-slots.)
    const full = evicted.filter((e) => e.data?.evictedFor === 'inbound-full');
    assert.ok(full.length >= 1, 'evictions from full slots happened');
    for (const e of full) {
      assert.match(
        String(e.data?.detail),
        /125 inbound slots full: the youngest of the \d+ unprotected connections from netgroup 127\.77\.0\.0\/16/,
      );
    }
    for (const e of evicted) assert.match(String((e.data?.conn as { remote: string }).remote), /^127\.77\./, 'only attackers evicted');
    await a.stop();
    await peer.destroy();
    assert.equal(await cli.stop(), 0);
  });

  it('the same takeover with the defaults: the per-netgroup cap holds the /16 to 16 slots, the honest peer is in', async () => {
    const { cli, port } = await observer([]);
    const a = attack(takeoverSources, port, async (peer) => {
      await handshake(peer);
    });
    await cli.until(
      () => ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'limit').length >= 100,
      'refusals by the netgroup cap',
      30_000,
    );
    const { ms } = await honest(cli, port, '127.98.0.1');
    assert.ok(ms < 5000);
    const refused = ofType(cli.events(), 'connection.closed').find((e) => e.data?.reason === 'limit');
    assert.match(String(refused?.data?.detail), /more than 16 connections from netgroup 127\.77\.0\.0\/16/);
    // The detectors see the refusals: slot-pressure names the /16.
    await cli.until(
      () =>
        ofType(cli.events(), 'alert').some(
          (e) => e.data?.detector === 'slot-pressure' && (e.data?.subject as { id: string }).id === '127.77.0.0/16',
        ),
      'a slot-pressure alert on 127.77.0.0/16',
    );
    await a.stop();
    assert.equal(await cli.stop(), 0);
  });

  it('500 slowloris connections (1 byte / 3 s) from 50 netgroups: an honest peer handshakes within 5 s', async () => {
    const { cli, port } = await observer([]);
    const frame = encodeFrame(network, 'version', encodePayload(versionMessage()));
    const sources = Array.from({ length: 500 }, (_, i) => `127.${100 + (i % 50)}.${Math.floor(i / 50)}.1`);
    const a = attack(sources, port, async (peer, signal) => {
      peer.sendRaw(frame.subarray(0, 12));
      for (let at = 12; at < frame.length - 1 && peer.isOpen && !signal.aborted; at++) {
        await Promise.race([sleep(3000, signal), peer.closed]);
        peer.sendRaw(frame.subarray(at, at + 1));
      }
    });
    // Every one of the 500 has tried at least once (and many again): accepted or refused.
    await cli.until(
      () =>
        ofType(cli.events(), 'connection.opened').length +
          ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'limit').length >=
        600,
      '600 slowloris connection attempts',
      60_000,
    );
    const { peer, ms } = await honest(cli, port, '127.97.0.1');
    assert.ok(ms < 5000, `handshake in ${Math.round(ms)} ms`);
    await sleep(1000);
    assert.ok(peer.isOpen, 'the honest peer, handshaked, is not evicted by new slowloris connections');
    const evicted = ofType(cli.events(), 'connection.closed').filter((e) => e.data?.reason === 'evicted');
    assert.ok(evicted.length >= 100, `${evicted.length} slowloris connections evicted`);
    // Evicted by the handshake budget, or (while a burst is within its grace and the slots fill) by Core's rules: never a handshaked peer.
    assert.ok(
      evicted.every(
        (e) => e.data?.handshakeComplete === false && /^127\.1\d\d\./.test(String((e.data?.conn as { remote: string }).remote)),
      ),
    );
    const bySlots = evicted.filter((e) => e.data?.evictedFor === 'handshake-slots');
    assert.ok(bySlots.length >= 50, `${bySlots.length} evicted by the handshake budget`);
    // Spread over 50 netgroups: slot-pressure warns about the observer.
    await cli.until(
      () =>
        ofType(cli.events(), 'alert').some(
          (e) => e.data?.detector === 'slot-pressure' && (e.data?.subject as { kind: string }).kind === 'node',
        ),
      'a slot-pressure alert on the observer',
    );
    assert.match(String(bySlots[0]?.data?.detail), /^all 32 handshake slots taken: the least advanced \(no (version|bytes) after \d+ ms/);
    await a.stop();
    await peer.destroy();
    assert.equal(await cli.stop(), 0);
  });

  it('--max-per-netgroup, --max-pending-handshakes: from flags, the config file (maxPerNetgroup, maxPendingHandshakes) and the environment', async () => {
    const sockets: Socket[] = [];
    const silent = (port: number, localAddress: string) => {
      const s = connect({ host: '127.0.0.1', port, localAddress });
      s.on('error', () => {});
      sockets.push(s);
    };
    const closed = (cli: Cli) => ofType(cli.events(), 'connection.closed');
    try {
      // File: one per netgroup; environment: two handshakes in progress.
      const file = join(mkdtempSync(join(tmpdir(), 'peer-observer-evict-')), 'config.json');
      writeFileSync(file, JSON.stringify({ maxPerNetgroup: 1 }));
      const a = await observer(['--config', file], { PEER_OBSERVER_MAX_PENDING_HANDSHAKES: '2' });
      silent(a.port, '127.61.0.1');
      silent(a.port, '127.61.0.2');
      await a.cli.until(() => closed(a.cli).some((e) => e.data?.reason === 'limit'), 'netgroup cap of 1');
      assert.match(String(closed(a.cli)[0]?.data?.detail), /more than 1 connections from netgroup 127\.61\.0\.0\/16/);
      silent(a.port, '127.62.0.1');
      await sleep(1100); // past the grace a new connection has (HANDSHAKE_GRACE_MS)
      silent(a.port, '127.63.0.1');
      await a.cli.until(() => closed(a.cli).some((e) => e.data?.evictedFor === 'handshake-slots'), 'handshake budget of 2');
      assert.match(
        String(closed(a.cli).find((e) => e.data?.reason === 'evicted')?.data?.detail),
        /^all 2 handshake slots taken: the least advanced/,
      );
      assert.equal(await a.cli.stop(), 0);

      // Flags: a budget of one handshake.
      const b = await observer(['--max-pending-handshakes', '1', '--max-per-netgroup', '5']);
      silent(b.port, '127.64.0.1');
      await sleep(1100);
      silent(b.port, '127.64.0.2');
      await b.cli.until(() => closed(b.cli).some((e) => e.data?.evictedFor === 'handshake-slots'), 'handshake budget of 1');
      assert.match(String(closed(b.cli).find((e) => e.data?.reason === 'evicted')?.data?.detail), /^all 1 handshake slots taken/);
      assert.equal(await b.cli.stop(), 0);
    } finally {
      sockets.forEach((s) => s.destroy());
    }

    for (const [flag, value] of [
      ['--max-per-netgroup', '0'],
      ['--max-pending-handshakes', 'many'],
    ] as const) {
      const r = await runCli(['run', '--network', 'regtest', flag, value]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`${flag} .*expected`));
    }
  });
});
