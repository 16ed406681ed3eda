/**
 * `run --webhook URL` and `run --detectors-config FILE` end to end: the real bin,
 * a real addr flood from the simulator, a real HTTP receiver on loopback.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NETWORKS } from '../../src/protocol/networks.js';
import { runSimulation } from '../../src/simulate/runner.js';
import { listeningPort, ofType, startCli } from './helpers.js';

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += String(chunk);
  return s;
}

async function floodAndStop(args: string[]): Promise<{ events: Record<string, unknown>[]; stderr: string }> {
  const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', '--node-id', 'flags', ...args]);
  try {
    await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'the listener');
    const port = listeningPort(cli.stderr())!;
    await runSimulation({
      network: NETWORKS.regtest,
      target: { host: '127.0.0.1', port },
      scenario: 'addr-flood-2021',
      peers: 2,
      durationMs: 2500,
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await cli.stop(), 0, cli.stderr());
    return { events: cli.events(), stderr: cli.stderr() };
  } finally {
    await cli.stop('SIGKILL');
  }
}

describe('run: alerting flags', { timeout: 60_000 }, () => {
  it('--webhook: every alert change is POSTed as JSON to the receiver', async () => {
    const received: { detector?: string; status?: string }[] = [];
    const server = createServer((req, res) => {
      void body(req).then((text) => {
        received.push(JSON.parse(text) as { detector?: string });
        res.writeHead(204).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      const { events } = await floodAndStop(['--webhook', `http://127.0.0.1:${port}/hook`]);
      const alerts = ofType(events, 'alert').filter((e) => e.data?.detector === 'addr-flood');
      assert.ok(alerts.length > 0, 'the flood raised an addr-flood alert');
      const hooked = JSON.stringify(received);
      assert.ok(received.length > 0, 'the receiver got POSTs');
      assert.match(hooked, /addr-flood/);
    } finally {
      server.close();
    }
  });

  it('--detectors-config: a detector turned off raises nothing; a bad file is a one-line error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'po-detcfg-'));
    try {
      const off = join(dir, 'off.json');
      writeFileSync(off, JSON.stringify({ 'addr-flood': false }));
      const { events } = await floodAndStop(['--detectors-config', off]);
      assert.ok(
        ofType(events, 'message').some((e) => e.data?.command === 'addr'),
        'the flood arrived',
      );
      assert.deepEqual(
        ofType(events, 'alert').filter((e) => e.data?.detector === 'addr-flood'),
        [],
        'addr-flood is off',
      );

      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ 'addr-flood': { minRateLimited: 'lots' } }));
      const cli = startCli(['run', '--listen', '127.0.0.1:0', '--detectors-config', bad]);
      assert.equal(await cli.exited, 2);
      const lines = cli.stderr().trim().split('\n');
      assert.equal(lines.length, 1, cli.stderr());
      assert.match(lines[0]!, /^peer-observer: error: --detectors-config ".*bad\.json": /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
