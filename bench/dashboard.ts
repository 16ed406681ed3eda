/**
 * Is the dashboard responsive under load? An HTTP service (dashboard on) on an
 * embedded bus, fed directly by a load generator: PEERS peers, then RATE events
 * per second (messages of the usual commands, spread over the peers). Chromium
 * (Debian's, via playwright-core) opens each page and measures in the page:
 * frame time (requestAnimationFrame deltas, p50/p99/max over the window) and
 * click-to-paint latency (input event time → the frame after the handler's
 * render, for sort clicks on the peers table and peer selection).
 *
 *   npm run bench:dashboard              (1000 peers, 5000 events/s, 10 s per page)
 *   PEERS=2000 RATE=10000 SECONDS=5 npm run bench:dashboard
 */
import { EmbeddedBus } from '../src/bus/embedded.js';
import { makeEvent } from '../src/events/envelope.js';
import type { ObserverEvent } from '../src/events/types.js';
import { startHttpService } from '../src/http/service.js';
import { launchChromium } from '../test/helpers/browser.js';

const PEERS = Number(process.env.PEERS ?? 1000);
const RATE = Number(process.env.RATE ?? 5000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const origin = { nodeId: 'bench', source: 'p2p' };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const conn = (i: number) => ({
  id: i,
  direction: (i % 8 === 0 ? 'outbound' : 'inbound') as 'inbound' | 'outbound',
  remote: `${10 + (i % 200)}.${(i >> 3) & 255}.${i & 255}.7:8333`,
});

function open(i: number): ObserverEvent[] {
  const c = conn(i);
  return [
    makeEvent(origin, 'connection.opened', {
      conn: c,
      local: '127.0.0.1:8333',
      network: 'mainnet',
      netgroup: c.remote.split('.').slice(0, 2).join('.'),
      transport: 'v1',
    }),
    makeEvent(origin, 'handshake.version', {
      conn: c,
      version: 70016,
      services: '1033',
      serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED'],
      userAgent: `/Satoshi:${20 + (i % 8)}.0.0/`,
      startHeight: 900_000,
      relay: true,
      nonce: String(i),
      timeOffsetSec: 0,
      receiver: '127.0.0.1:8333',
      sender: null,
    }),
  ];
}

let seq = 0;
function traffic(): ObserverEvent {
  const i = seq++ % PEERS;
  const c = conn((i * 7919) % PEERS);
  const k = seq % 10;
  if (k < 4)
    return makeEvent(origin, 'message', {
      conn: c,
      dir: 'in',
      command: 'inv',
      size: 37,
      known: true,
      payload: { count: 1, types: { wtx: 1 }, items: [{ type: 'wtx', hash: seq.toString(16).padStart(64, '0') }] },
    });
  if (k < 6)
    return makeEvent(origin, 'message', {
      conn: c,
      dir: k === 4 ? 'in' : 'out',
      command: k === 4 ? 'ping' : 'pong',
      size: 8,
      known: true,
      payload: { nonce: String(seq) },
    });
  if (k < 8)
    return makeEvent(origin, 'message', {
      conn: c,
      dir: 'in',
      command: 'tx',
      size: 222,
      known: true,
      payload: {
        txid: seq.toString(16).padStart(64, '0'),
        wtxid: seq.toString(16).padStart(64, '0'),
        segwit: false,
        version: 2,
        inputs: 1,
        outputs: 2,
        lockTime: 0,
        size: 222,
        vsize: 222,
        weight: 888,
      },
    });
  if (k < 9)
    return makeEvent(origin, 'message', {
      conn: c,
      dir: 'in',
      command: 'addrv2',
      size: 40,
      known: true,
      payload: {
        count: 2,
        entries: [
          { time: 0, services: '9', addr: '1.2.3.4', port: 8333, network: 'ipv4' },
          { time: 0, services: '9', addr: '2001:db8::1', port: 8333, network: 'ipv6' },
        ],
      },
    });
  return makeEvent(origin, 'message', {
    conn: c,
    dir: 'in',
    command: 'getheaders',
    size: 69,
    known: true,
    payload: { version: 70016, locatorCount: 1, locator: ['0'.repeat(64)], stop: '0'.repeat(64) },
  });
}

async function main(): Promise<void> {
  const bus = new EmbeddedBus();
  const service = await startHttpService(bus, { host: '127.0.0.1', port: 0, nodeIds: ['bench'] });
  for (let i = 0; i < PEERS; i++) for (const e of open(i)) bus.publish(e);
  let published = 0;
  // 10 batches a second.
  const load = setInterval(() => {
    for (let n = 0; n < RATE / 10; n++) bus.publish(traffic());
    published += RATE / 10;
  }, 100);
  const chromium = await launchChromium();
  const results: Record<string, unknown>[] = [];
  const started = Date.now();
  try {
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${service.server.url}/#/overview`);
    await page.waitForSelector('.status.ok');
    for (const name of ['overview', 'peers', 'relay', 'connections']) {
      await page.evaluate((n) => (location.hash = `#/${n}`), name);
      await page.waitForTimeout(1000);
      // A string, not a function: tsx's name helpers do not exist in the page.
      const frames = (await page.evaluate(`new Promise((resolve) => {
        const deltas = [];
        let last = performance.now();
        const end = last + ${SECONDS * 1000};
        const step = (t) => {
          deltas.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(step);
          else resolve(deltas);
        };
        requestAnimationFrame(step);
      })`)) as number[];
      const row: Record<string, unknown> = {
        page: name,
        frames: frames.length,
        p50: +pct(frames, 50).toFixed(1),
        p99: +pct(frames, 99).toFixed(1),
        max: +Math.max(...frames).toFixed(1),
        over50ms: frames.filter((f) => f > 50).length,
      };
      if (name === 'peers') {
        // Click-to-paint: sort clicks on column headers, then row selection.
        await page.evaluate(() => {
          const w = window as unknown as { __lat: number[] };
          w.__lat = [];
          document.addEventListener(
            'click',
            (e) => requestAnimationFrame(() => requestAnimationFrame(() => w.__lat.push(performance.now() - e.timeStamp))),
            true,
          );
        });
        for (let n = 0; n < 20; n++) {
          await page.click(`.grid thead th:nth-child(${1 + (n % 9)})`);
          await page.waitForTimeout(150);
        }
        for (let n = 0; n < 10; n++) {
          await page.click(`.grid tbody tr:nth-child(${2 + n})`);
          await page.waitForTimeout(150);
        }
        const lat = await page.evaluate(() => (window as unknown as { __lat: number[] }).__lat);
        row.clickToPaintP50 = +pct(lat, 50).toFixed(1);
        row.clickToPaintP99 = +pct(lat, 99).toFixed(1);
        row.domRows = await page.evaluate(() => document.querySelectorAll('.grid tbody tr').length);
        row.peersShown = await page.evaluate(() => document.querySelector('.toolbar span.muted')?.textContent);
      }
      results.push(row);
    }
  } finally {
    clearInterval(load);
    await chromium.close();
    await bus.close();
    await service.close();
  }
  const secs = (Date.now() - started) / 1000;
  console.log(
    `dashboard bench: ${PEERS} peers, ${RATE} events/s target (${Math.round(published / secs)} published/s over ${secs.toFixed(0)} s), ${SECONDS} s per page`,
  );
  console.log(`hub: ${JSON.stringify(service.live?.liveStats())}`);
  console.table(results);
}

await main();
