/**
 * Headless Chromium from Debian's package, driven by playwright-core (no browser download: .ci/run installs the
 * `chromium` package). Every page records what would mean the console is broken or not self-contained: console
 * errors (CSP violations are reported there), uncaught exceptions, and requests to any other origin.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { ChartSnapshot } from '../../app/chart/time-chart.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium; .ci/run does)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export interface ConsolePage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors, page errors and requests to other origins, in order. */
  readonly problems: string[];
}

export async function newConsolePage(
  browser: Browser,
  origin: string,
  options: { timezoneId?: string; viewport?: { width: number; height: number } } = {},
): Promise<ConsolePage> {
  const context = await browser.newContext({
    timezoneId: options.timezoneId ?? 'UTC',
    viewport: options.viewport ?? { width: 1280, height: 900 },
    locale: 'en-GB',
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(`${origin}/`)) problems.push(`request off origin: ${request.url()}`);
  });
  return { context, page, problems };
}

/** Enters `key` in the key form of the page already showing it. */
export async function enterKey(page: Page, key: string): Promise<void> {
  await page.locator('#admin-key').fill(key);
  await page.locator('form.key-form button[type=submit]').click();
}

/** What the chart `name` holds (uPlot's own data), once it exists and no request is running. */
export async function chartData(page: Page, name: string): Promise<ChartSnapshot> {
  await page.waitForFunction(
    (chart) => {
      const hook = (window as unknown as { tallyhouseConsole?: TestHook }).tallyhouseConsole;
      return hook !== undefined && hook.pendingRequests() === 0 && hook.chart(chart) !== undefined;
    },
    name,
    { timeout: 30_000 },
  );
  return page.evaluate(
    (chart) => (window as unknown as { tallyhouseConsole: TestHook }).tallyhouseConsole.chart(chart)!,
    name,
  );
}

/** Waits until the page has no request running. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => (window as unknown as { tallyhouseConsole?: TestHook }).tallyhouseConsole?.pendingRequests() === 0,
    undefined,
    { timeout: 30_000 },
  );
}

interface TestHook {
  chart(name: string): ChartSnapshot | undefined;
  pendingRequests(): number;
}
