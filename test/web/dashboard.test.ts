/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core):
 * an in-process observer with --http, honest and addr-flood-2021 peers from
 * the simulator, two peers whose user agents are markup, and one v1 and one
 * BIP324 v2 peer. Peers appear live, the chart gains points, the addr-flood
 * alert shows; the hostile user agents stay text (no dialog, no injected
 * element); the transport column and the detail panel say v1 or v2. Every page is
 * screenshotted into test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startPipeline, type Pipeline } from '../../src/cli/pipeline.js';
import { networkByName } from '../../src/protocol/networks.js';
import { runHonestPeer } from '../../src/simulate/honest-peer.js';
import { runSimulation } from '../../src/simulate/runner.js';
import { launchChromium } from '../helpers/browser.js';

const SHOTS = 'test-output/screenshots';
const IMG_UA = '<img src=x onerror=alert(1)>';
const SCRIPT_UA = '<script>alert(1)</script>';
const V1_UA = '/transport-v1:1.0/';
const V2_UA = '/transport-v2:1.0/';
const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('dashboard in Chromium', { timeout: 60_000 }, () => {
  let pipeline: Pipeline | undefined;
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let browser: Browser;
  let page: Page;
  const stopPeers = new AbortController();
  const running: Promise<unknown>[] = [];
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  let url = '';

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const network = networkByName('regtest');
    pipeline = await startPipeline({
      network,
      nodeId: 'e2e-observer',
      listen: [{ host: '127.0.0.1', port: 0 }],
      connect: [],
      json: false,
      http: { host: '127.0.0.1', port: 0 },
      io: { stdout: sink(), stderr: sink() },
    });
    url = pipeline.http!.server.url;
    const target = pipeline.listening[0]!;
    chromium = await launchChromium();
    browser = chromium.browser;
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('.status.ok', { timeout: 10_000 });
    // Traffic starts once the page is live, so it sees peers arrive.
    running.push(runSimulation({ network, target, scenario: 'honest', peers: 3, rate: 2, durationMs: 25_000, signal: stopPeers.signal }));
    // One v1 and one BIP324 v2 peer (the node listens for both), each known by its user agent.
    for (const [i, v2] of [false, true].entries())
      running.push(
        runHonestPeer({
          network,
          host: target.host,
          port: target.port,
          localAddress: `127.30.1.${i + 1}`,
          userAgent: v2 ? V2_UA : V1_UA,
          trafficIntervalMs: 700,
          v2,
          signal: stopPeers.signal,
        }).catch(() => undefined),
      );
    for (const [i, userAgent] of [IMG_UA, SCRIPT_UA].entries())
      running.push(
        runHonestPeer({
          network,
          host: target.host,
          port: target.port,
          localAddress: `127.30.0.${i + 1}`,
          userAgent,
          trafficIntervalMs: 700,
          signal: stopPeers.signal,
        }).catch(() => undefined),
      );
  });

  after(async () => {
    stopPeers.abort();
    await Promise.allSettled(running);
    await chromium?.close();
    await pipeline?.stop();
  });

  it('shows peers appear live and the rate chart gain points', async () => {
    await page.waitForFunction(() => Number(document.querySelector('[data-card="peers-in"] .value')?.textContent) >= 4, null, {
      timeout: 15_000,
    });
    const points = async () => Number(await page.getAttribute('[data-testid="rate-chart"]', 'data-points'));
    const first = await points();
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="rate-chart"]')?.getAttribute('data-points')) >= n + 2,
      first,
      {
        timeout: 10_000,
      },
    );
    assert.ok((await points()) >= first + 2, 'the chart gained points');
    assert.ok((await page.locator('.chart canvas').count()) >= 1, 'uPlot drew a canvas');
    await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
  });

  it('renders hostile user agents as text: no dialog, no injected element', async () => {
    await page.goto(`${url}/#/peers`);
    await page.waitForFunction((ua) => [...document.querySelectorAll('td.ua')].some((td) => td.textContent === ua), IMG_UA, {
      timeout: 15_000,
    });
    await page.waitForFunction((ua) => [...document.querySelectorAll('td.ua')].some((td) => td.textContent === ua), SCRIPT_UA, {
      timeout: 10_000,
    });
    // Open the img peer: its user agent is also shown in the detail panel.
    await page
      .locator('tr', { has: page.locator('td.ua', { hasText: IMG_UA }) })
      .first()
      .click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="peer-messages"]')?.children.length ?? 0) > 0, null, {
      timeout: 10_000,
    });
    assert.equal(await page.textContent('.ua-full'), IMG_UA);
    await page.waitForTimeout(1500);
    assert.deepEqual(dialogs, [], 'no dialog fired');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no injected <img>');
    assert.equal(await page.locator('body script').count(), 0, 'no injected <script> (the bundle loads from <head>)');
    assert.deepEqual(pageErrors, []);
    await page.screenshot({ path: `${SHOTS}/peers.png` });
  });

  it("draws the open peer's messages as a sequence diagram, oldest first, both directions", async () => {
    await page.click('.view-toggle button[data-view="sequence"]');
    await page.waitForFunction(() => (document.querySelectorAll('[data-testid="peer-sequence"] .seq-row').length ?? 0) >= 4, null, {
      timeout: 10_000,
    });
    const drawn = await page.evaluate(() => {
      const rows = [...document.querySelectorAll<HTMLElement>('[data-testid="peer-sequence"] .seq-row')];
      const state = (window as unknown as { __po: { state: { messages: { command: string; dir: string; timeUs: number }[] } } }).__po.state;
      return {
        rows: rows.map((r) => `${r.classList.contains('in') ? 'in' : 'out'} ${r.dataset.command}`),
        state: state.messages.slice(-300).map((m) => `${m.dir} ${m.command}`),
        ordered: state.messages.every((m, i, a) => i === 0 || a[i - 1]!.timeUs <= m.timeUs),
      };
    });
    assert.ok(drawn.ordered, 'the messages are in time order');
    // The feed may have delivered more between the render and the read: the drawing is a prefix-aligned snapshot of the state.
    assert.deepEqual(drawn.rows, drawn.state.slice(0, drawn.rows.length));
    assert.ok(drawn.rows.some((r) => r.startsWith('in ')) && drawn.rows.some((r) => r.startsWith('out ')), drawn.rows.join(', '));
    assert.ok(drawn.rows.includes('in version') && drawn.rows.includes('out verack'), 'the handshake is drawn');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no injected <img>');
    await page.screenshot({ path: `${SHOTS}/peer-sequence.png` });
    await page.click('.view-toggle button[data-view="list"]');
    await page.waitForSelector('[data-testid="peer-messages"]', { timeout: 5000 });
  });

  it('shows the transport per connection: v1 and v2 in the table, v2 with its session id in the detail panel', async () => {
    await page.goto(`${url}/#/peers`);
    for (const ua of [V1_UA, V2_UA])
      await page.waitForFunction((u) => [...document.querySelectorAll('td.ua')].some((td) => td.textContent === u), ua, {
        timeout: 15_000,
      });
    const cells = await page.evaluate(
      ([v1, v2]) => {
        const heads = [...document.querySelectorAll('thead th')].map((th) => th.textContent?.trim() ?? '');
        const col = heads.findIndex((t) => t.startsWith('transport'));
        // (No named functions in here: tsx would wrap them in a helper the page does not have.)
        const [c1, c2] = [v1!, v2!].map((ua) => {
          const row = [...document.querySelectorAll('tbody tr')].find((tr) => tr.querySelector('td.ua')?.textContent === ua);
          return row?.querySelectorAll('td')[col]?.textContent ?? null;
        });
        return { col, v1: c1, v2: c2 };
      },
      [V1_UA, V2_UA],
    );
    assert.ok(cells.col >= 0, 'the table has a transport column');
    assert.deepEqual({ v1: cells.v1, v2: cells.v2 }, { v1: 'v1', v2: 'v2' });
    const detailTransport = async (ua: string): Promise<string> => {
      await page
        .locator('tr', { has: page.locator('td.ua', { hasText: ua }) })
        .first()
        .click();
      await page.waitForFunction((u) => document.querySelector('.ua-full')?.textContent === u, ua, { timeout: 10_000 });
      return page.evaluate(() => {
        const row = [...document.querySelectorAll('table.kv tr')].find((tr) => tr.querySelector('th')?.textContent === 'transport');
        return row?.querySelector('td')?.textContent ?? '';
      });
    };
    assert.match(await detailTransport(V2_UA), /^v2 \(session [0-9a-f]{64}\)$/);
    assert.equal(await detailTransport(V1_UA), 'v1');
    await page.screenshot({ path: `${SHOTS}/peers-transport.png` });
  });

  it('shows the addr-flood alert and its incident, with an export link that works', async () => {
    const target = pipeline!.listening[0]!;
    await runSimulation({ network: networkByName('regtest'), target, scenario: 'addr-flood-2021', peers: 2, rate: 2, durationMs: 4000 });
    await page.goto(`${url}/#/overview`);
    await page.waitForFunction(() => /addr-flood/.test(document.querySelector('.alert-list')?.textContent ?? ''), null, {
      timeout: 15_000,
    });
    await page.screenshot({ path: `${SHOTS}/overview-alert.png`, fullPage: true });
    await page.goto(`${url}/#/alerts`);
    await page.waitForSelector('article.incident', { timeout: 10_000 });
    const incident = await page.getAttribute('article.incident', 'data-incident');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 10_000 }),
      page.click('article.incident button:text("Markdown")'),
    ]);
    assert.match(download.suggestedFilename(), /^incident-.*\.md$/);
    assert.ok(incident);
    await page.screenshot({ path: `${SHOTS}/alerts.png`, fullPage: true });
  });

  it('relay and connections pages render', async () => {
    await page.goto(`${url}/#/relay`);
    await page.waitForFunction(() => document.querySelectorAll('section.page table').length >= 2, null, { timeout: 10_000 });
    await page.screenshot({ path: `${SHOTS}/relay.png`, fullPage: true });
    await page.goto(`${url}/#/connections`);
    await page.waitForSelector('[data-diversity="netgroup"]', { timeout: 10_000 });
    const text = (await page.textContent('main')) ?? '';
    assert.match(text, /effective netgroups/);
    await page.screenshot({ path: `${SHOTS}/connections.png`, fullPage: true });
    assert.deepEqual(dialogs, []);
  });
});
