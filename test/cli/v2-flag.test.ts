/**
 * `--v2` / `--no-v2`, PEER_OBSERVER_V2 and the config file's `v2` key, through
 * the real bin: each shown to change what a BIP324 v2 client gets on loopback
 * (a v2 session, or a `v2-transport` violation and a closed socket).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NETWORKS } from '../../src/protocol/networks.js';
import { V2Transport } from '../../src/protocol/v2/transport.js';
import { type Cli, listeningPort, ofType, startCli } from './helpers.js';

const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

/** Open a v2 session as the initiator: 'v2' with its session id, or 'closed' when the node hung up first. */
function v2Client(port: number): Promise<{ result: 'v2'; sessionId: string } | { result: 'closed' }> {
  return new Promise((resolve) => {
    const t = new V2Transport({ network: NETWORKS.regtest, initiating: true });
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(t.start()));
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      for (const item of t.push(chunk)) {
        if (item.type === 'send') sock.write(item.bytes);
        if (item.type === 'handshake') {
          sock.destroy();
          resolve({ result: 'v2', sessionId: item.sessionId });
        }
      }
    });
    sock.on('close', () => resolve({ result: 'closed' }));
  });
}

async function runWith(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ cli: Cli; outcome: Awaited<ReturnType<typeof v2Client>> }> {
  const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--json', ...args], { env });
  children.push(cli);
  await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening line');
  const outcome = await v2Client(listeningPort(cli.stderr())!);
  await cli.until(() => ofType(cli.events(), 'connection.closed').length > 0, 'close event');
  await cli.stop();
  return { cli, outcome };
}

describe('run --v2 / --no-v2', () => {
  it('default and --v2: a v2 client gets a session; the close event says v2 with the same session id', async () => {
    for (const args of [[], ['--v2']]) {
      const { cli, outcome } = await runWith(args);
      assert.equal(outcome.result, 'v2', args.join(' '));
      const closed = ofType(cli.events(), 'connection.closed')[0]!.data!;
      assert.equal(closed.transport, 'v2');
      assert.equal(closed.sessionId, outcome.result === 'v2' ? outcome.sessionId : '');
      assert.equal(closed.decoysIn, 0);
    }
  });

  it('--no-v2, PEER_OBSERVER_V2=false and {"v2": false}: v1 only, the v2 opening is a violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peer-observer-v2-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ v2: false }));
    for (const [args, env] of [
      [['--no-v2'], {}],
      [[], { PEER_OBSERVER_V2: 'false' }],
      [['--config', file], {}],
    ] as [string[], Record<string, string>][]) {
      const { cli, outcome } = await runWith(args, env);
      assert.equal(outcome.result, 'closed', JSON.stringify([args, env]));
      assert.equal(ofType(cli.events(), 'violation')[0]!.data!.kind, 'v2-transport');
    }
  });

  it('the flag beats the environment', async () => {
    const { outcome } = await runWith(['--v2'], { PEER_OBSERVER_V2: 'false' });
    assert.equal(outcome.result, 'v2');
  });
});
