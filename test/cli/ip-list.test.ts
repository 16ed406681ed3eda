/**
 * `run --ip-list NAME=FILE` (and PEER_OBSERVER_IP_LIST, and `ipList` in the
 * config file): the listed peers' connections are counted apart in /metrics,
 * over the real bin with a real TCP peer on loopback; bad lists are one-line
 * usage errors.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadRunConfig } from '../../src/cli/config.js';
import { type Cli, listeningPort, runCli, startCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-ip-list-'));
const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

describe('peer-observer run --ip-list', { timeout: 60_000 }, () => {
  it('counts the connections of listed peers in /metrics, beside the built-in linkinglion list', async () => {
    const file = join(dir, 'local.txt');
    writeFileSync(file, '# loopback, for the test\n127.0.0.0/8\n\n198.51.100.7 # one address\n');
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--ip-list', `local=${file}`]);
    children.push(cli);
    await cli.until(
      () => /HTTP at (http:\/\/\S+)/.test(cli.stderr()) && listeningPort(cli.stderr()) !== undefined,
      'HTTP and listen lines',
      15_000,
    );
    const url = /HTTP at (http:\/\/[^\s;]+)/.exec(cli.stderr())![1]!;
    const port = listeningPort(cli.stderr())!;
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let text = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      if (/peer_observer_list_connections\{list="local"\} 1/.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    socket.destroy();
    assert.match(text, /peer_observer_list_connections_total\{list="local",direction="inbound"\} 1/);
    assert.match(text, /peer_observer_list_connections\{list="local"\} 1/);
    assert.match(text, /peer_observer_list_connections\{list="linkinglion"\} 0/);
    assert.equal(await cli.stop(), 0);
  });

  it('--asmap: /metrics counts open connections by AS from our own lookup', async () => {
    const map = join(dir, 'all-as1.map');
    writeFileSync(map, new Uint8Array([0, 0, 0])); // RETURN 1: every address is AS1
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--asmap', map]);
    children.push(cli);
    await cli.until(
      () => /HTTP at (http:\/\/\S+)/.test(cli.stderr()) && listeningPort(cli.stderr()) !== undefined,
      'HTTP and listen lines',
      15_000,
    );
    const url = /HTTP at (http:\/\/[^\s;]+)/.exec(cli.stderr())![1]!;
    const socket = connect(listeningPort(cli.stderr())!, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let text = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !/peer_observer_peers_by_asn\{asn="AS1"\} 1/.test(text)) {
      text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      await new Promise((r) => setTimeout(r, 100));
    }
    socket.destroy();
    assert.match(text, /peer_observer_peers_by_asn\{asn="AS1"\} 1/);
    assert.equal(await cli.stop(), 0);
  });

  it('reads the environment and the config file; bad names, lines and files, and a missing --http are one-line errors', async () => {
    const file = join(dir, 'exits.txt');
    writeFileSync(file, '203.0.113.0/24\n2001:db8::/32\n');
    const fromEnv = loadRunConfig({
      flags: { network: 'regtest', http: '127.0.0.1:0' },
      env: { PEER_OBSERVER_IP_LIST: `tor-exit=${file}` },
    });
    assert.deepEqual(
      fromEnv.http?.ipLists?.map((l) => [l.name, l.cidrs.length]),
      [
        ['linkinglion', 4],
        ['tor-exit', 2],
      ],
    );
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ network: 'regtest', http: '127.0.0.1:0', ipList: [`linkinglion=${file}`] }));
    const fromFile = loadRunConfig({ flags: {}, env: {}, configFile: config });
    assert.deepEqual(
      fromFile.http?.ipLists,
      [{ name: 'linkinglion', cidrs: ['203.0.113.0/24', '2001:db8::/32'] }],
      'a list named like the default replaces it',
    );
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, '1.2.3.4\nnot-an-ip\n');
    const cases: [string[], RegExp][] = [
      [['--ip-list', `x=${file}`], /--ip-list needs --http/],
      [['--http', '127.0.0.1:0', '--ip-list', `Bad Name=${file}`], /expected NAME=FILE/],
      [['--http', '127.0.0.1:0', '--ip-list', `x=${bad}`], /bad\.txt:2: not an IP or CIDR: "not-an-ip"/],
      [['--http', '127.0.0.1:0', '--ip-list', `x=${join(dir, 'missing')}`], /missing: no such file/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
