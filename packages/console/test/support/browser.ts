/**
 * Headless Chromium from Debian's package, driven by playwright-core (no browser download: .ci/run installs the
 * `chromium` package). Every page records what would mean the console is broken or not self-contained: console
 * errors (CSP violations are reported there), uncaught exceptions, requests to any other origin — and every usage
 * API answer the page received that does not match the collector's OpenAPI document.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ContractViolation, usageApiChecker } from '../../../collector/test/support/openapi-check.ts';
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
  /** Console errors, page errors, requests to other origins and API answers off the contract, in order. */
  readonly problems: string[];
  /** The checks of API answers still reading their bodies: `settledProblems` waits for them. */
  readonly checks: Promise<void>[];
}

/** One checker for every page: compiling the document's schemas takes a moment. */
const contract = usageApiChecker();

/** The page's problems, once every API answer it received has been checked against the document. */
export async function settledProblems(opened: ConsolePage): Promise<string[]> {
  await Promise.all(opened.checks);
  return opened.problems;
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
  // Every usage API answer the page gets, against the collector's OpenAPI document (as the collector's tests do).
  const checks: Promise<void>[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/v1/') || !contract.covers(url.pathname)) return;
    checks.push(
      (async () => {
        const headers = response.headers();
        // A request the page gave up on (a picker changed meanwhile) has no body to check.
        const text = await response.text().catch(() => undefined);
        if (text === undefined) return;
        const json = /^application\/json\b/.test(headers['content-type'] ?? '');
        try {
          contract.check({
            method: response.request().method(),
            path: `${url.pathname}${url.search}`,
            requestHeaders: await response.request().allHeaders(),
            status: response.status(),
            headers,
            body: text === '' ? undefined : json ? JSON.parse(text) : text,
          });
        } catch (error) {
          if (!(error instanceof ContractViolation)) throw error;
          problems.push(`API answer off the contract: ${error.message}`);
        }
      })(),
    );
  });
  return { context, page, problems, checks };
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
