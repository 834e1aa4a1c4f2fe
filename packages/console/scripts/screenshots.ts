/**
 * `npm run screenshots -w @tallyhouse/console`: the console's main pages as PNGs in the repository's docs/
 * (console-overview.png, console-tenant.png), taken from a real collector holding the tests' demo usage, in
 * headless Chromium. Builds the console first, so the pictures show the sources as they are.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chartData, enterKey, launchChromium, newConsolePage, settled } from '../test/support/browser.ts';
import { CONSOLE_ROOT } from '../test/support/build-console.ts';
import { ADMIN_KEY, startCollector } from '../test/support/collector.ts';
import { ingestDemoData, LIMITS } from '../test/support/demo-data.ts';

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));

await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
const running = await startCollector({ limits: LIMITS });
const browser = await launchChromium();
try {
  await ingestDemoData(running.origin, Date.now());
  await running.flush();
  const opened = await newConsolePage(browser, running.origin, { viewport: { width: 1280, height: 900 } });
  const { page } = opened;
  mkdirSync(DOCS, { recursive: true });

  await page.goto(`${running.origin}/console/?metric=api.requests&range=last-24h&step=1h&limit=10`);
  await enterKey(page, ADMIN_KEY);
  await chartData(page, 'overview-trend');
  await page.locator('[data-table=top-tenants]').waitFor();
  await page.screenshot({ path: `${DOCS}console-overview.png`, fullPage: true });

  await page.goto(
    `${running.origin}/console/tenants/acme?metric=api.requests&range=last-24h&step=1h&split=route&by=route`,
  );
  await chartData(page, 'tenant-usage');
  await page.locator('[data-table=top]').waitFor();
  await page.locator('[data-table=gauges]').waitFor();
  await page.locator('[data-quota]').first().waitFor();
  await settled(page);
  await page.screenshot({ path: `${DOCS}console-tenant.png`, fullPage: true });

  if (opened.problems.length > 0) throw new Error(`the console had problems:\n${opened.problems.join('\n')}`);
  console.log(`screenshots: ${DOCS}console-overview.png, ${DOCS}console-tenant.png`);
} finally {
  await browser.close();
  await running.stop();
}
