/**
 * The HTTP server and API on their own: routes, hostile paths and methods,
 * query validation, the bearer token, the bind rule, the dashboard hooks.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ObserverMetrics } from '../../src/consumers/metrics/metrics.js';
import { PeersTable } from '../../src/consumers/peers/table.js';
import { RecentEvents } from '../../src/consumers/recent/ring.js';
import type { AlertStore } from '../../src/consumers/alerts/types.js';
import type { Alert, Incident } from '../../src/events/types.js';
import { apiRouter } from '../../src/http/api.js';
import { authorized, bindRefusal, isLoopbackHost, startHttpServer, type HttpServer } from '../../src/http/server.js';
import { peerLife } from '../consumers/synthetic.js';

const TOKEN = 'test-token-0123456789abcdef';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

function call(
  base: string,
  path: string,
  options: { method?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: { ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> }),
        );
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const alert: Alert = {
  id: 'al-1',
  detector: 'addr-flood',
  severity: 'critical',
  subject: { kind: 'peer', id: '11.0.1.2' },
  summary: 'flood',
  firstSeenUs: 1,
  lastSeenUs: 2,
  status: 'active',
  nodeIds: ['test-node'],
  count: 3,
  evidence: { counts: { addrEntries: 5000 }, samples: [] },
  incidentId: 'in-1',
};
const incident: Incident = {
  id: 'in-1',
  title: 'addr flood from 11.0.0.0/16',
  severity: 'critical',
  status: 'active',
  firstSeenUs: 1,
  lastSeenUs: 2,
  alertIds: ['al-1'],
  subjects: [alert.subject],
  netgroups: ['11.0.0.0/16'],
  detectors: ['addr-flood'],
  nodeIds: ['test-node'],
};
const calls: unknown[] = [];
const store: AlertStore = {
  alerts: (f) => (calls.push(f), [alert]),
  alert: (id) => (id === alert.id ? alert : undefined),
  incidents: (f) => (calls.push(f), [incident]),
  incident: (id) => (id === incident.id ? incident : undefined),
};

function sources() {
  const metrics = new ObserverMetrics({ defaultMetrics: false });
  const peers = new PeersTable();
  const recent = new RecentEvents({ maxEvents: 50 });
  for (let i = 0; i < 3; i++) {
    for (const e of peerLife(i).slice(0, -1)) {
      metrics.handle(e);
      peers.handle(e);
      recent.push(e);
    }
  }
  return { metrics, peers, recent };
}

describe('http server', () => {
  let open: HttpServer;
  let locked: HttpServer;
  before(async () => {
    open = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      router: apiRouter({ ...sources(), alerts: () => store }),
      fallback: (ctx) =>
        ctx.url.pathname === '/' ? { text: '<!doctype html>dashboard', contentType: 'text/html; charset=utf-8' } : undefined,
    });
    locked = await startHttpServer({ host: '127.0.0.1', port: 0, token: TOKEN, router: apiRouter(sources()) });
  });
  after(async () => {
    await open?.close();
    await locked?.close();
  });

  it('serves /metrics as Prometheus text and /healthz', async () => {
    const r = await call(open.url, '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /peer_observer_messages_total\{command="addrv2",dir="in",conn_direction="inbound"\} 3/);
    const h = await call(open.url, '/healthz');
    assert.equal(h.json().status, 'ok');
    assert.equal(h.headers['x-content-type-options'], 'nosniff');
    const head = await call(open.url, '/metrics', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('/api/peers, /api/events, /api/alerts, /api/incidents and their ids', async () => {
    const peers = (await call(open.url, '/api/peers?limit=2&direction=inbound')).json();
    assert.equal(peers.count, 2);
    assert.equal((peers.peers as { id: number }[])[0]!.id, 2);
    const events = (await call(open.url, '/api/events?type=ping.latency,violation&limit=4')).json();
    assert.deepEqual(
      (events.events as { type: string }[]).map((e) => e.type),
      ['violation', 'ping.latency', 'violation', 'ping.latency'],
    );
    const alerts = (await call(open.url, '/api/alerts?status=active&severity=warning&detector=addr-flood&limit=5')).json();
    assert.equal(alerts.enabled, true);
    assert.deepEqual(calls.at(-1), { limit: 5, status: 'active', detector: 'addr-flood', minSeverity: 'warning' });
    assert.equal((await call(open.url, '/api/alerts/al-1')).json().detector, 'addr-flood');
    assert.equal((await call(open.url, '/api/alerts/nope')).status, 404);
    const inc = (await call(open.url, '/api/incidents/in-1')).json();
    assert.equal((inc.alerts as Alert[])[0]!.id, 'al-1');
    assert.equal((await call(open.url, '/api/incidents?since=0')).json().count, 1);
    assert.equal((await call(open.url, '/api/incidents/%E0%A4%A')).status, 404, 'a malformed escape is not found, not a crash');
    // Without an alert store the API still answers, and says so.
    const none = (await call(locked.url, '/api/alerts', { token: TOKEN })).json();
    assert.deepEqual(none, { enabled: false, count: 0, alerts: [] });
  });

  it('answers hostile paths, methods and queries with JSON errors', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', '/nope', 404, /not found/],
      ['GET', '/api/peers/../../etc/passwd', 404, /not found/],
      ['GET', '/api//peers//', 200, /peers/],
      ['POST', '/api/peers', 405, /not allowed/],
      ['DELETE', '/metrics', 405, /not allowed/],
      ['GET', '/api/peers?limit=0', 400, /limit.*1 to 10000/],
      ['GET', '/api/peers?limit=1e9', 400, /limit/],
      ['GET', '/api/peers?state=everything', 400, /state/],
      ['GET', '/api/peers?limit=1&limit=2', 400, /more than once/],
      ['GET', '/api/peers?x=1', 400, /unknown query parameter \\"x\\"/],
      ['GET', '/api/events?type=message,bogus', 400, /expected event types/],
      ['GET', '/api/alerts?severity=extreme', 400, /severity/],
      ['GET', '/api/alerts?since=-1', 400, /since/],
      ['GET', `/api/peers?node=${'a'.repeat(65)}`, 400, /at most 64/],
      ['GET', `/${'a'.repeat(5000)}`, 414, /too long/],
      ['GET', '/', 200, /dashboard/],
    ];
    for (const [method, path, status, body] of cases) {
      const r = await call(open.url, path, { method });
      assert.equal(r.status, status, `${method} ${path.slice(0, 60)}: ${r.body}`);
      assert.match(r.body, body, `${method} ${path.slice(0, 60)}`);
      if (status === 405) assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('with a token: refused without it (401) or with a wrong one, accepted with it, on every route', async () => {
    for (const path of ['/metrics', '/healthz', '/api/peers', '/api/events', '/nope']) {
      const none = await call(locked.url, path);
      assert.equal(none.status, 401, path);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="peer-observer"');
      assert.equal((await call(locked.url, path, { token: TOKEN + 'x' })).status, 401);
      assert.equal((await call(locked.url, path, { headers: { authorization: `Basic ${TOKEN}` } })).status, 401);
    }
    assert.equal((await call(locked.url, '/metrics', { token: TOKEN })).status, 200);
    assert.equal((await call(locked.url, '/nope', { token: TOKEN })).status, 404);
  });

  it('refuses WebSocket upgrades without a hook, and without the token', async () => {
    const upgrade = (base: string, token?: string) =>
      new Promise<string>((resolve, reject) => {
        const url = new URL(base);
        const req = request({
          host: url.hostname,
          port: url.port,
          path: '/ws',
          headers: { connection: 'Upgrade', upgrade: 'websocket', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
        req.on('response', (res) => resolve(String(res.statusCode)));
        req.on('upgrade', () => resolve('upgraded'));
        req.on('error', reject);
        req.end();
      });
    assert.equal(await upgrade(open.url), '404');
    assert.equal(await upgrade(locked.url), '401');
  });

  it('binds loopback freely; anything else only with a token', async () => {
    for (const h of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', '128.0.0.1', 'example.org']) assert.ok(!isLoopbackHost(h), h);
    assert.match(bindRefusal('0.0.0.0', undefined)!, /needs --http-token/);
    assert.equal(bindRefusal('0.0.0.0', TOKEN), undefined);
    await assert.rejects(startHttpServer({ host: '0.0.0.0', port: 0, router: apiRouter(sources()) }), /needs --http-token/);
    const { createHash } = await import('node:crypto');
    const d = createHash('sha256').update(TOKEN).digest();
    assert.ok(authorized(`Bearer ${TOKEN}`, d));
    assert.ok(authorized(`bearer  ${TOKEN}`, d));
    assert.ok(!authorized(undefined, d));
    assert.ok(!authorized(`Bearer ${TOKEN} extra`, d));
  });
});
