/**
 * The dashboard's server side: static files, the token rule for HTTP and the
 * WebSocket (Authorization or the `bearer.<base64url>` subprotocol), the Origin
 * check, snapshot then deltas, watching one peer, a slow client dropped without
 * holding anything up, and the incident export route.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import type { AlertStore } from '../../src/consumers/alerts/types.js';
import { makeEvent } from '../../src/events/envelope.js';
import type { Alert, Incident } from '../../src/events/types.js';
import { LIVE_PROTOCOL, type LiveServerMessage } from '../../src/live/feed.js';
import { messageSummary } from '../../src/events/summary.js';
import { msg } from '../../src/protocol/messages/index.js';
import { HostAllowlist } from '../../src/http/hosts.js';
import { protocolToken } from '../../src/http/server.js';
import { startHttpService, type HttpService } from '../../src/http/service.js';
import { peerLife } from '../consumers/synthetic.js';

const TOKEN = 'dash-token-0123456789abcdef';
const b64 = (s: string) => Buffer.from(s).toString('base64url');

const alert: Alert = {
  id: 'al-1',
  detector: 'addr-flood',
  severity: 'critical',
  subject: { kind: 'peer', id: '11.0.1.2:8333' },
  summary: 'flood of <b>addr</b>',
  firstSeenUs: 1_700_000_000_000_000,
  lastSeenUs: 1_700_000_001_000_000,
  status: 'active',
  nodeIds: ['test-node'],
  count: 3,
  evidence: { counts: { addrEntries: 5000 }, samples: [{ remote: '11.0.1.2:8333', local: '203.0.113.9:8333' }] },
  incidentId: 'in-1',
};
const incident: Incident = {
  id: 'in-1',
  title: 'addr flood',
  severity: 'critical',
  status: 'active',
  firstSeenUs: alert.firstSeenUs,
  lastSeenUs: alert.lastSeenUs,
  alertIds: ['al-1'],
  subjects: [alert.subject],
  netgroups: ['11.0.0.0/16'],
  detectors: ['addr-flood'],
  nodeIds: ['test-node'],
};
const store: AlertStore = {
  alerts: () => [alert],
  alert: (id) => (id === alert.id ? alert : undefined),
  incidents: () => [incident],
  incident: (id) => (id === incident.id ? incident : undefined),
};

type Of<T extends LiveServerMessage['type']> = Extract<LiveServerMessage, { type: T }>;

interface Client {
  ws: WebSocket;
  /** What the server sent, as the feed module declares it (src/live/feed.ts). */
  messages: LiveServerMessage[];
  next: <T extends LiveServerMessage['type']>(type: T, pred?: (m: Of<T>) => boolean, timeoutMs?: number) => Promise<Of<T>>;
}

function connect(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, protocols, { headers });
    const messages: LiveServerMessage[] = [];
    let seen = 0;
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as LiveServerMessage));
    const next: Client['next'] = async <T extends LiveServerMessage['type']>(
      type: T,
      pred: (m: Of<T>) => boolean = () => true,
      timeoutMs = 5000,
    ) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (; seen < messages.length; seen++) {
          const m = messages[seen]!;
          if (m.type === type && pred(m as Of<T>)) {
            seen++;
            return m as Of<T>;
          }
        }
        if (Date.now() > deadline) throw new Error(`no ${type} message within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    ws.once('open', () => resolve({ ws, messages, next }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function get(url: string, token?: string): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('dashboard server', { timeout: 60_000 }, () => {
  let bus: EmbeddedBus;
  let service: HttpService;
  let url = '';
  const clients: WebSocket[] = [];

  before(async () => {
    bus = new EmbeddedBus();
    service = await startHttpService(bus, {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      alerts: () => store,
      dashboard: { live: { tickMs: 100, maxBufferedBytes: 256 * 1024 } },
    });
    url = service.server.url;
  });

  after(async () => {
    for (const c of clients) c.terminate();
    await bus.close();
    await service.close();
  });

  it('serves the page without the token (no data in it), with a strict CSP; data needs the token', async () => {
    const page = await get(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const asset = /src="\.?(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(asset, 'the page loads its bundle from /assets');
    assert.equal((await get(`${url}${asset}`)).status, 200);
    assert.equal((await get(`${url}/assets/../../package.json`)).status, 401, 'no path outside the built files');
    for (const path of ['/api/peers', '/api/alerts', '/metrics', '/healthz', '/api/incidents/in-1/export', '/nope'])
      assert.equal((await get(`${url}${path}`)).status, 401, path);
    assert.equal((await get(`${url}/api/peers`, TOKEN)).status, 200);
  });

  it('WebSocket: refused without the token or with a wrong one; accepted with the subprotocol or the header', async () => {
    await assert.rejects(connect(url, [LIVE_PROTOCOL]), /HTTP 401/);
    await assert.rejects(connect(url, [LIVE_PROTOCOL, `bearer.${b64('wrong-token-0123456789')}`]), /HTTP 401/);
    const a = await connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`]);
    clients.push(a.ws);
    assert.equal(a.ws.protocol, LIVE_PROTOCOL, 'the server answers with the real protocol, never the token');
    const b = await connect(url, [LIVE_PROTOCOL], { authorization: `Bearer ${TOKEN}` });
    clients.push(b.ws);
    await a.next('snapshot');
    a.ws.close();
    b.ws.close();
  });

  it('WebSocket from another origin is refused', async () => {
    await assert.rejects(connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`], { origin: 'http://evil.example' }), /HTTP 403/);
    const ok = await connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`], { origin: url });
    ok.ws.close();
    const hosts = new HostAllowlist('127.0.0.1');
    assert.equal(hosts.originAllowed(undefined, 'x'), true);
    assert.equal(hosts.originAllowed('http://127.0.0.1:5', '127.0.0.1:5'), true);
    assert.equal(hosts.originAllowed('null', '127.0.0.1:5'), false);
    assert.equal(protocolToken(`peer-observer.v1, bearer.${b64(TOKEN)}`), TOKEN);
  });

  it('snapshot, then deltas with new peers, the rate point and changed alerts; watching a peer streams its messages', async () => {
    const c = await connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`]);
    clients.push(c.ws);
    const snap = await c.next('snapshot');
    assert.equal(snap.alertsEnabled, true);
    assert.deepEqual(
      snap.alerts.map((a) => a.id),
      ['al-1'],
    );
    for (const e of peerLife(1, { userAgent: '<img src=x onerror=alert(1)>' }).slice(0, -1)) bus.publish(e);
    const delta = await c.next('delta', (m) => m.peers.length > 0);
    const peer = delta.peers[0]!;
    assert.equal(peer.userAgent, '<img src=x onerror=alert(1)>', 'sent as data; the page renders it as text');
    assert.deepEqual([peer.relay.txIn, peer.relay.unsolicited], [0, 0]);
    assert.ok(delta.point.counts, 'one rate point per tick');
    bus.publish(makeEvent({ nodeId: 'test-node', source: 'detectors' }, 'alert', { ...alert, count: 4 }));
    await c.next('delta', (m) => m.alerts.some((a) => a.count === 4));
    c.ws.send(JSON.stringify({ type: 'watch', key: peer.key }));
    const first = await c.next('messages');
    assert.equal(first.reset, true);
    const conn = { id: 1, direction: 'inbound' as const, remote: '11.0.0.2:8333' };
    bus.publish(
      makeEvent({ nodeId: 'test-node', source: 'p2p' }, 'message', {
        conn,
        dir: 'in',
        command: 'ping',
        size: 8,
        known: true,
        payload: { nonce: '7' },
      }),
    );
    const live = await c.next('messages', (m) => m.items.some((i) => i.command === 'ping'));
    assert.equal(live.key, peer.key);
    // A transaction nobody asked for: the relay counters (consumers/relay) reach the page in the next delta.
    bus.publish(
      makeEvent({ nodeId: 'test-node', source: 'p2p' }, 'message', {
        conn,
        dir: 'in',
        size: 85,
        ...messageSummary(
          msg('tx', {
            version: 2,
            inputs: [{ prevTxid: new Uint8Array(32), prevIndex: 0, scriptSig: new Uint8Array([0x51]), sequence: 0xffffffff }],
            outputs: [{ value: 1000n, scriptPubKey: new Uint8Array([0x51]) }],
            lockTime: 0,
          }),
        ),
      }),
    );
    const relayed = await c.next('delta', (m) => m.peers.some((p) => p.key === peer.key && p.relay.txIn === 1));
    const relay = relayed.peers.find((p) => p.key === peer.key)!.relay;
    // peerLife's inv showed none of its 2 entries: whether this tx was announced cannot be told, so it is not counted.
    assert.deepEqual([relay.txIn, relay.unsolicited, relay.announcedComplete, relay.unannounced], [1, 1, false, 0]);
    c.ws.close();
  });

  it('a slow client is dropped and counted; the bus and new clients go on', async () => {
    const slow = await connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`]);
    clients.push(slow.ws);
    // Stop reading: the server's socket buffer for this client can only grow.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const closed = new Promise((r) => slow.ws.once('close', r));
    const before = service.live!.liveStats().slowClientsDropped;
    const ua = 'x'.repeat(200);
    for (let round = 0; round < 40 && service.live!.liveStats().slowClientsDropped === before; round++) {
      // Every peer changes every tick: deltas of ~1 MB.
      for (let i = 0; i < 2000; i++) for (const e of peerLife(10 + i, { userAgent: `${ua}${round}` }).slice(0, 2)) bus.publish(e);
      await new Promise((r) => setTimeout(r, 120));
    }
    const dropped = service.live!.liveStats().slowClientsDropped;
    assert.ok(dropped >= before + 1, 'the paused client was dropped');
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
    // The load is over: a new client gets its snapshot and deltas, and the bus delivered everything to the hub.
    const next = await connect(url, [LIVE_PROTOCOL, `bearer.${b64(TOKEN)}`]);
    clients.push(next.ws);
    await next.next('snapshot');
    await next.next('delta');
    assert.equal(service.live!.liveStats().eventsDropped, 0, 'the hub kept up with the bus');
    const health = JSON.parse((await get(`${url}/healthz`, TOKEN)).body) as { dashboard: { slowClientsDropped: number } };
    assert.ok(health.dashboard.slowClientsDropped >= dropped, '/healthz reports it');
    next.ws.close();
  });

  it('exports an incident as Markdown or JSON (redacted by default)', async () => {
    const md = await get(`${url}/api/incidents/in-1/export`, TOKEN);
    assert.equal(md.status, 200);
    assert.match(md.headers.get('content-type') ?? '', /text\/markdown/);
    assert.match(md.headers.get('content-disposition') ?? '', /attachment; filename="incident-in-1\.md"/);
    assert.match(md.body, /# Incident/);
    assert.doesNotMatch(md.body, /203\.0\.113\.9/, "the observer's own address is redacted");
    const json = await get(`${url}/api/incidents/in-1/export?format=json&redact=0`, TOKEN);
    const report = JSON.parse(json.body) as { format: string; redacted: boolean; alerts: Alert[] };
    assert.equal(report.format, 'peer-observer incident report');
    assert.equal(report.redacted, false);
    assert.equal(report.alerts.length, 1);
    assert.equal((await get(`${url}/api/incidents/nope/export`, TOKEN)).status, 404);
    assert.equal((await get(`${url}/api/incidents/in-1/export?format=pdf`, TOKEN)).status, 400);
  });
});
