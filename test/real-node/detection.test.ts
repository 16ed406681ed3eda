/**
 * Detection on Core sources: the simulator's attack scenarios aimed at a real
 * bitcoind (started with -connect=0 by the harness, so an addr flood makes it
 * dial nothing), watched only through what Core says — rpc, log, usdt — and fed
 * to the detectors, one engine per source. Each scenario must raise its alert,
 * naming the attacker, from the sources that can see it (docs/sources.md,
 * "Detection on Core sources"); the honest simulator raises none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AlertManager } from '../../src/consumers/alerts/manager.js';
import { DetectorEngine } from '../../src/consumers/detectors/engine.js';
import { buildDetectors } from '../../src/consumers/detectors/index.js';
import type { Alert, ObserverEvent } from '../../src/events/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';
import { runSimulation } from '../../src/simulate/runner.js';
import { bitcoindSkipReason, startBitcoind, type Bitcoind } from '../helpers/bitcoind.js';
import { CoreWatch, usdtSkipReason, type CoreSourceName } from './watch.js';

/** The detectors' alerts on one source's events (the engine as `run --detectors` runs it). */
function alertsOf(events: readonly ObserverEvent[]): Alert[] {
  const built = buildDetectors({});
  const published: ObserverEvent[] = [];
  const manager = new AlertManager({ nodeId: 'core', source: 'detectors' }, (e) => published.push(e), built.alerts);
  const engine = new DetectorEngine(built.detectors, manager);
  for (const e of events) engine.process(e);
  engine.tick(events.at(-1)?.timeUs ?? 0);
  return published.flatMap((e) => (e.type === 'alert' ? [e.data] : []));
}

/** detector → subjects it named, per source. */
type Seen = Record<CoreSourceName, Record<string, string[]>>;

/**
 * What each source must catch (the table in docs/sources.md): detector and the
 * attacker's address prefix it must name. A source absent from a row catches
 * nothing of that scenario, by the nature of its data.
 */
const EXPECT: Record<string, { peers: number; rate: number; ms: number; catch: Partial<Record<CoreSourceName, [string, string]>> }> = {
  'addr-flood-2021': {
    peers: 2,
    rate: 4,
    ms: 3000,
    catch: { rpc: ['addr-flood', '127.21.0.'], log: ['addr-flood', '127.21.0.'], usdt: ['addr-flood', '127.21.0.'] },
  },
  'ping-spam': {
    peers: 2,
    rate: 50,
    ms: 3000,
    catch: { rpc: ['ping-spam', '127.31.0.'], log: ['ping-spam', '127.31.0.'], usdt: ['ping-spam', '127.31.0.'] },
  },
  'inv-spam': { peers: 2, rate: 10, ms: 3000, catch: { usdt: ['inv-spam', '127.32.0.'] } },
  linkinglion: { peers: 4, rate: 4, ms: 3000, catch: { usdt: ['spy', '127.54.98.'] } },
};

describe('detection on Core sources against a real bitcoind', { skip: bitcoindSkipReason(), timeout: 150_000 }, () => {
  let node: Bitcoind;
  let watch: CoreWatch;
  const seen: Record<string, Seen> = {};

  before(async () => {
    node = await startBitcoind();
    watch = await CoreWatch.start(node, { usdt: usdtSkipReason() === undefined });
  });
  after(async () => {
    for (const [scenario, s] of Object.entries(seen)) console.log(`# ${scenario}: ${JSON.stringify(s)}`);
    await watch?.stop();
    await node?.stop();
  });

  async function attack(scenario: string, peers: number, rate: number, ms: number): Promise<Seen> {
    watch.clear();
    await runSimulation({
      network: NETWORKS.regtest,
      target: { host: '127.0.0.1', port: node.port },
      scenario,
      peers,
      rate,
      durationMs: ms,
    });
    await node.waitForPeers((ps) => ps.length === 0, 'the attackers gone');
    // One more rpc poll and the log's tail.
    await new Promise((r) => setTimeout(r, 600));
    const out = {} as Seen;
    for (const source of watch.sources()) {
      out[source] = {};
      for (const a of alertsOf(watch.events(source))) (out[source][a.detector] ??= []).push(a.subject.id);
    }
    seen[scenario] = out;
    return out;
  }

  for (const [scenario, e] of Object.entries(EXPECT)) {
    it(`${scenario}: caught by ${Object.keys(e.catch).join(', ')}, naming the attacker`, async () => {
      const s = await attack(scenario, e.peers, e.rate, e.ms);
      for (const [source, [detector, prefix]] of Object.entries(e.catch) as [CoreSourceName, [string, string]][]) {
        if (!watch.has(source)) continue;
        const subjects = s[source][detector] ?? [];
        assert.ok(
          subjects.some((id) => id.startsWith(prefix)),
          `${source} → ${detector} naming ${prefix}*: got ${JSON.stringify(s[source])}`,
        );
      }
    });
  }

  it('the honest simulator raises no alert from any source', async () => {
    const s = await attack('honest', 3, 2, 3000);
    for (const source of watch.sources()) assert.deepEqual(s[source], {}, `${source} raised alerts on honest peers`);
  });
});
