/**
 * The dashboard's Collective page in a real browser (Debian's Chromium via
 * playwright-core): an in-process observer with --http and --collective on a
 * real nats-server; two other members (bob, carol) publish signed reports
 * about one netgroup; the page shows their reports and the incident the two
 * confirm (k = 2), with each member's evidence digest.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createPrivateKey } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Browser, Page } from 'playwright-core';
import { startPipeline, type Pipeline } from '../../src/cli/pipeline.js';
import { signReport } from '../../src/collective/envelope.js';
import { generateKeyPair } from '../../src/collective/keys.js';
import type { SharedReport } from '../../src/collective/report.js';
import { networkByName } from '../../src/protocol/networks.js';
import { launchChromium } from '../helpers/browser.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';

const SHOTS = 'test-output/screenshots';
const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('dashboard: the Collective page in Chromium', { timeout: 60_000 }, () => {
  let hub: NatsServer;
  let pipeline: Pipeline | undefined;
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let browser: Browser;
  let page: Page;
  let nc: NatsConnection;
  const keys = { alice: generateKeyPair(), bob: generateKeyPair(), carol: generateKeyPair() };
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    hub = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), 'po-collective-web-'));
    writeFileSync(join(dir, 'alice.pem'), keys.alice.privateKeyPem, { mode: 0o600 });
    writeFileSync(
      join(dir, 'collective.json'),
      JSON.stringify({
        collective: 'bnoc-web',
        // carol weighs 2: the incident she and bob confirm shows its weight beside its members.
        members: Object.entries(keys).map(([name, k]) => ({
          name,
          ...(name === 'carol' ? { weight: 2 } : {}),
          keys: [{ publicKey: k.publicKey }],
        })),
      }),
    );
    pipeline = await startPipeline({
      network: networkByName('regtest'),
      nodeId: 'web-observer',
      listen: [{ host: '127.0.0.1', port: 0 }],
      connect: [],
      json: false,
      http: { host: '127.0.0.1', port: 0 },
      collective: {
        servers: [hub.url],
        keyFile: join(dir, 'alice.pem'),
        trustFile: join(dir, 'collective.json'),
        minMembers: 2,
        windowMs: 60_000,
      },
      io: { stdout: sink(), stderr: sink() },
    });
    assert.equal(pipeline.collective?.member, 'alice');
    nc = await connect({ servers: hub.url });
    chromium = await launchChromium();
    browser = chromium.browser;
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await nc?.close();
    await chromium?.close();
    await pipeline?.stop();
    await hub?.stop();
  });

  it('shows the members’ reports and the incident they confirm, with each evidence digest', async () => {
    const nowUs = Date.now() * 1000;
    const publish = async (i: number, member: 'bob' | 'carol') => {
      const report: SharedReport = {
        kind: 'incident',
        detectors: ['addr-flood'],
        severity: 'critical',
        firstSeenUs: nowUs - 60_000_000,
        lastSeenUs: nowUs,
        counts: { 'addr-flood.addrEntries': 250_000 },
        attackers: [{ kind: 'address', id: `93.184.216.${30 + i}` }],
        netgroups: [],
        evidenceDigest: String(i + 1).repeat(64),
      };
      const text = signReport(report, { collective: 'bnoc-web', member, privateKey: createPrivateKey(keys[member].privateKeyPem), seq: 1 });
      nc.publish(`collective.reports.${member}`, text);
      await nc.flush();
    };
    // bob reports before the page is opened: the snapshot has it (and /api/alerts).
    await publish(0, 'bob');
    const url = pipeline!.http!.server.url;
    const api = async () =>
      ((await (await fetch(`${url}/api/alerts?detector=collective`)).json()) as { alerts: { nodeIds: string[] }[] }).alerts;
    for (let i = 0; i < 100 && (await api()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      (await api()).map((a) => a.nodeIds),
      [['bob']],
    );
    await page.goto(`${url}/#/collective`);
    await page.waitForSelector('.status.ok', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('table.reports tbody tr').length === 1, null, { timeout: 10_000 });
    assert.match((await page.textContent('main'))!, /Nothing confirmed yet/);
    // carol's arrives live, and confirms bob's.
    await publish(1, 'carol');
    await page.waitForSelector('article[data-collective]', { timeout: 10_000 });
    const article = (await page.textContent('article[data-collective]'))!;
    assert.match(article, /netgroup 93\.184\.0\.0\/16 · 2 members \(weight 3\)/);
    assert.ok(article.includes('1'.repeat(64)) && article.includes('2'.repeat(64)), article);
    assert.ok(article.includes('bob') && article.includes('carol'), article);
    await page.waitForFunction(() => document.querySelectorAll('table.reports tbody tr').length === 2, null, { timeout: 10_000 });
    const reports = (await page.textContent('table.reports'))!;
    assert.match(reports, /bob.*critical.*peer 93\.184\.216\.30|carol.*critical.*peer 93\.184\.216\.31/);
    assert.deepEqual(pageErrors, []);
    assert.equal(pipeline!.collective!.counters().accepted, 2);
    await page.screenshot({ path: `${SHOTS}/collective.png`, fullPage: true });
  });
});
