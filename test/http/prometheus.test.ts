/**
 * A real Prometheus (Debian's `prometheus`) scrapes a running observer that
 * simulated honest peers talk to, with our recording and alerting rules loaded,
 * and its query API returns our series.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NETWORKS } from '../../src/protocol/networks.js';
import { runHonestPeer } from '../../src/simulate/honest-peer.js';
import { listeningPort, startCli } from '../cli/helpers.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function query(base: string, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(3000) });
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

describe('a real Prometheus scrapes the observer', { timeout: 90_000 }, () => {
  it('and its query API returns our series', async (t) => {
    if (spawnSync('prometheus', ['--version']).error) return t.skip('prometheus not installed (apt-get install prometheus)');
    const dir = mkdtempSync(join(tmpdir(), 'peer-observer-prom-'));
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--node-id', 'prom-1']);
    const peers = new AbortController();
    let prometheus: ChildProcess | undefined;
    let promLog = '';
    try {
      await cli.until(() => /HTTP at http:\/\/127\.0\.0\.1:\d+/.test(cli.stderr()), 'HTTP line', 15_000);
      const httpPort = Number(/HTTP at http:\/\/127\.0\.0\.1:(\d+)/.exec(cli.stderr())![1]);
      const p2pPort = listeningPort(cli.stderr())!;
      const traffic = [1, 2, 3].map((n) =>
        runHonestPeer({
          network: NETWORKS.regtest,
          host: '127.0.0.1',
          port: p2pPort,
          localAddress: `127.0.0.${40 + n}`,
          trafficIntervalMs: 100,
          signal: peers.signal,
        }).catch(() => undefined),
      );

      const promPort = await freePort();
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'rule_files:',
          `  - ${join(RULES, 'recording.rules.yml')}`,
          `  - ${join(RULES, 'alerting.rules.yml')}`,
          'scrape_configs:',
          '  - job_name: peer-observer',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${httpPort}']`,
          '',
        ].join('\n'),
      );
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prometheus.stderr!.setEncoding('utf8').on('data', (s: string) => (promLog = (promLog + s).slice(-4000)));
      const base = `http://127.0.0.1:${promPort}`;

      const deadline = Date.now() + 45_000;
      let messages = 0;
      let up = 0;
      while (Date.now() < deadline) {
        if (prometheus.exitCode !== null) assert.fail(`prometheus exited ${prometheus.exitCode}:\n${promLog}`);
        try {
          up = Number((await query(base, 'up{job="peer-observer"}'))[0]?.value[1] ?? 0);
          messages = Number((await query(base, 'sum(peer_observer_messages_total{command="ping"})'))[0]?.value[1] ?? 0);
          if (up === 1 && messages > 0) break;
        } catch {
          // Not up yet.
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(up, 1, `target up\n${promLog}`);
      assert.ok(messages > 0, 'ping messages counted');
      const conns = await query(base, 'peer_observer_connections{direction="inbound"}');
      assert.equal(
        conns.reduce((s, r) => s + Number(r.value[1]), 0),
        3,
        'three peers connected now',
      );
      const uas = await query(base, 'peer_observer_peers_by_user_agent');
      assert.ok(uas.length >= 1 && uas.every((r) => /^\/Satoshi:/.test(r.metric.user_agent!)));
      const hs = await query(base, 'peer_observer_handshakes_total');
      assert.ok(hs.length > 0);
      // Every series Prometheus holds from us: none names a peer.
      const all = await query(base, '{job="peer-observer", __name__=~"peer_observer_.+"}');
      assert.ok(all.length > 20);
      for (const r of all) for (const v of Object.values(r.metric)) assert.ok(!/^127\.0\.0\.4\d/.test(v), `a label names a peer: ${v}`);
      const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { name: string }[] } };
      assert.deepEqual(rules.data.groups.map((g) => g.name).sort(), ['peer-observer-alerts', 'peer-observer-recording']);
      peers.abort();
      await Promise.all(traffic);
    } finally {
      peers.abort();
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((r) => prometheus!.once('exit', r));
        prometheus.kill('SIGTERM');
        const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await cli.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
