/**
 * Debian's Chromium driven by playwright-core (no downloaded browser). A missing
 * /usr/bin/chromium is a test failure with the fix in the message, never a skip.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.PEER_OBSERVER_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: the dashboard tests need Debian's chromium (apt-get install chromium; .ci/run installs it)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    // Playwright gives the browser a fresh empty profile of its own and removes it on close.
    close: () => browser.close().catch(() => undefined),
  };
}
