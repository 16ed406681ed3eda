/**
 * /healthz through the real bin (issue 12, finding 6: "/healthz still says ok"
 * while things fail): `ok` (200) while nothing is lost; `degraded` (503) naming
 * the reason once a consumer drops events. The drop is real: the test stops
 * reading the observer's stdout, so its logger blocks on the pipe and its bus
 * queue (100,000 events) overflows under a peer's ping flood. /metrics says
 * so too (`peer_observer_health_degraded`).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { TestPeer, versionMessage } from '../sources/p2p/helpers.js';
import { type Cli, listeningPort, startCli } from './helpers.js';

const children: Cli[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
});

function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, signal: AbortSignal.timeout(5000) });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('run --http: /healthz', { timeout: 120_000 }, () => {
  it('is ok while nothing is lost, and degraded (503, reason "bus") once a consumer drops events', async () => {
    const cli = startCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
    children.push(cli);
    await cli.until(() => /HTTP at http:\/\/\S+:\d+/.test(cli.stderr()), 'HTTP line', 15_000);
    const httpPort = Number(/HTTP at http:\/\/\S+?:(\d+)/.exec(cli.stderr())![1]);
    const p2pPort = listeningPort(cli.stderr())!;

    const fine = await healthz(httpPort);
    assert.equal(fine.status, 200);
    assert.equal(fine.body.status, 'ok');
    assert.equal(fine.body.reasons, undefined);

    // The terminal stops reading: the logger waits on the pipe, its queue fills, and the bus drops (and counts).
    cli.child.stdout!.pause();
    const peer = await TestPeer.connect(p2pPort);
    await peer.handshake(versionMessage());
    const deadline = Date.now() + 60_000;
    let sick = await healthz(httpPort);
    for (let nonce = 1n; sick.status === 200 && Date.now() < deadline;) {
      for (let i = 0; i < 5000; i++) peer.send({ command: 'ping', payload: { nonce: nonce++ } });
      await new Promise((r) => setTimeout(r, 100));
      sick = await healthz(httpPort);
    }
    assert.equal(sick.status, 503, JSON.stringify(sick.body));
    assert.equal(sick.body.status, 'degraded');
    const reasons = sick.body.reasons as { component: string; reason: string; since: string }[];
    assert.equal(reasons[0]!.component, 'bus');
    assert.match(reasons[0]!.reason, /^\d+ events dropped \(\d+ in all\), the last within 60 s$/);
    assert.ok(!Number.isNaN(Date.parse(reasons[0]!.since)));
    const metrics = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: httpPort, path: '/metrics', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    assert.match(metrics, /^peer_observer_health_degraded\{component="bus"\} 1$/m);
    assert.match(metrics, /^peer_observer_health_degraded\{component="any"\} 1$/m);
    peer.close();
    cli.child.stdout!.resume();
    assert.equal(await cli.stop('SIGINT', 30_000), 0);
  });
});
