/**
 * The `archive` command's plan (cli/archive.ts: the NATS connection, a
 * JetStream durable consumer, the archive and its writer thread, the
 * subscription check) against a real nats-server with JetStream: a failure
 * injected at each step leaves the same active handles as before (no NATS
 * socket, timer or writer thread left). Injected by wrapping one component
 * (test-only; no production flag).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildArchivePlan, type ArchiveCommandOptions } from '../../src/cli/archive.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { failingAt, quietResources, settledTo } from './handles.js';

test('a failure at each step of the archive command plan leaves no socket, timer or worker running', { timeout: 120_000 }, async (t) => {
  const server = await startNatsServer({ jetstream: true });
  t.after(() => server.stop());
  const sink = new PassThrough();
  sink.resume();
  const io = { stdout: sink, stderr: sink };
  const optionsFor = (dataDir: string): ArchiveCommandOptions => ({
    nats: [server.url],
    dataDir,
    maxDbMb: 0,
    stream: { mode: 'jetstream', consumer: 'archive-fail', start: { kind: 'all' } },
  });
  // Warm up: one full start and stop, so lazily created process-wide handles are in the baseline.
  {
    const dir = mkdtempSync(join(tmpdir(), 'po-aplan-'));
    const plan = buildArchivePlan(optionsFor(dir), io);
    const runtime = await Runtime.start(plan, { nodeId: 'a-1', countersIntervalMs: 50 });
    assert.ok(plan.durable.consumer, 'JetStream: the durable consumer is on');
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const names = buildArchivePlan(optionsFor(tmpdir()), io).components.map((c) => c.name);
  assert.deepEqual(names, ['durable', 'archive', 'ready', 'catch-up']);
  for (let at = 0; at < names.length; at++) {
    for (const when of ['before', 'after'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'po-aplan-'));
      const before = await quietResources();
      const plan = buildArchivePlan(optionsFor(dir), io);
      await assert.rejects(
        Runtime.start({ bus: plan.bus, components: failingAt(plan.components, at, when) }, { nodeId: 'a-1', countersIntervalMs: 50 }),
        { message: `injected failure at ${names[at]}` },
      );
      assert.deepEqual(await settledTo(before), before, `${when} ${names[at]}: the active handles are those from before`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
