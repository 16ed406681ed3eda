/**
 * A failure injected at each start-up step of `run`'s real plan (cli/plan.ts:
 * embedded bus and logger, health, archive with its writer thread, detectors
 * with a webhook sender, HTTP, connectivity, the p2p listener, a debug.log
 * source) leaves nothing running: the same active handles as before (no timer,
 * socket or worker left), and the ports it had bound refuse connections.
 * The failure is injected by wrapping one component of the plan (a test-only
 * wrapper; no production flag): it throws before, or after, its real start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildRunPlan, type RunPlan } from '../../src/cli/plan.js';
import { coreSourceComponents } from '../../src/cli/core-sources.js';
import type { PipelineOptions } from '../../src/cli/pipeline.js';
import { networkByName } from '../../src/protocol/networks.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { failingAt, resources, settledTo } from './handles.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Settled on 'close', once the socket's handle is gone (it would count in the next step's baseline).
    let accepted = false;
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      accepted = true;
      s.destroy();
    });
    s.once('error', () => {});
    s.once('close', () => resolve(!accepted));
  });
}

function planFor(dir: string): RunPlan {
  const sink = new PassThrough();
  sink.resume();
  const options: PipelineOptions = {
    network: networkByName('regtest'),
    nodeId: 'fail-1',
    listen: [{ host: '127.0.0.1', port: 0 }],
    connect: [],
    json: true,
    archive: { dataDir: dir },
    http: { host: '127.0.0.1', port: 0 },
    connectivity: { allowLoopback: true },
    // A webhook sender: it must be closed on every failure path too.
    detectors: { config: {}, webhooks: ['http://127.0.0.1:9/hook'] },
    io: { stdout: sink, stderr: sink },
  };
  const logFile = join(dir, 'debug.log');
  writeFileSync(logFile, '');
  const sources = coreSourceComponents(
    { rpc: null, log: { path: logFile, fromStart: true }, usdt: null },
    { nodeId: 'fail-1', network: 'regtest' },
  );
  return buildRunPlan(options, { sources });
}

test("a failure at each step of run's plan leaves no timer, socket or worker running", { timeout: 120_000 }, async () => {
  const names = buildRunPlan({
    network: networkByName('regtest'),
    nodeId: 'x',
    listen: [],
    connect: [],
    json: true,
    archive: { dataDir: '/nonexistent' },
    http: { host: '127.0.0.1', port: 0 },
    connectivity: { allowLoopback: true },
    io: { stdout: process.stdout, stderr: process.stderr },
  }).components.map((c) => c.name);
  assert.deepEqual(names, ['health', 'archive', 'detectors', 'http', 'connectivity', 'p2p.observer']);
  // --no-p2p: no observer component (it published zero p2p counters under a node without a p2p node).
  const noP2p = buildRunPlan({
    network: networkByName('regtest'),
    nodeId: 'x',
    listen: [],
    connect: [],
    json: true,
    p2p: false,
    io: { stdout: process.stdout, stderr: process.stderr },
  });
  assert.deepEqual([noP2p.components.map((c) => c.name), noP2p.observer], [['health', 'detectors'], undefined]);
  // Warm up the modules and one full start/stop, so lazily created process-wide handles are in the baseline.
  {
    const dir = mkdtempSync(join(tmpdir(), 'po-plan-'));
    const plan = planFor(dir);
    const runtime = await Runtime.start(plan, { nodeId: 'fail-1', countersIntervalMs: 50 });
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const steps = planFor(tmpdir()).components.length;
  assert.equal(steps, 7, 'six parts of run and the debug.log source');
  for (let at = 0; at < steps; at++) {
    for (const when of ['before', 'after'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'po-plan-'));
      const before = resources();
      const plan = planFor(dir);
      const components = failingAt(plan.components, at, when);
      await assert.rejects(Runtime.start({ bus: plan.bus, components }, { nodeId: 'fail-1', countersIntervalMs: 50 }), {
        message: `injected failure at ${plan.components[at]!.name}`,
      });
      const what = `${when} ${plan.components[at]!.name}`;
      assert.deepEqual(await settledTo(before), before, `${what}: the active handles are those from before`);
      const bound = [plan.observer?.listening[0]?.port, plan.http?.service?.server.port].filter((p): p is number => p !== undefined);
      if (when === 'after' && at >= components.indexOf(components.find((c) => c.name === 'p2p.observer')!))
        assert.equal(bound.length, 2, `${what}: the observer and HTTP had bound ports`);
      for (const port of bound) assert.ok(await refused(port), `${what}: port ${port} is closed`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
