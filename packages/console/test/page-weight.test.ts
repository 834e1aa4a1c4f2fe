/**
 * The production page weight budget: everything the console's index.html loads, gzipped, under 300 kB. Measured
 * twice: from the build (each file gzipped here and summed) and in Chromium (the encoded body sizes of what the
 * collector sent while the overview and a tenant page loaded) — the two must agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chartData, enterKey, launchChromium, newConsolePage } from './support/browser.ts';
import { CONSOLE_ROOT } from './support/build-console.ts';
import { ADMIN_KEY, type RunningCollector, startCollector } from './support/collector.ts';
import { ingestDemoData } from './support/demo-data.ts';

const BUDGET_BYTES = 300_000;
const DIST = join(CONSOLE_ROOT, 'dist');

let running: RunningCollector;

beforeAll(async () => {
  running = await startCollector();
  await ingestDemoData(running.origin, Date.now());
  await running.flush();
});
afterAll(async () => {
  await running?.stop();
});

/** Every file index.html loads: its scripts, stylesheets and icon, and what those import or reference in turn. */
function filesLoadedBy(indexHtml: string): string[] {
  const found = new Set<string>();
  const pending = [...indexHtml.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1]!);
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (found.has(file)) continue;
    found.add(file);
    const text = readFileSync(join(DIST, file), 'utf8');
    if (file.endsWith('.js')) {
      // Static and dynamic imports of other chunks (Vite writes them relative to the chunk, or under the base).
      for (const m of text.matchAll(
        /(?:import|from)\s*\(?\s*["'](?:\.\/|\/console\/assets\/)([^"']+\.js)["']/g,
      )) {
        pending.push(`assets/${m[1]}`);
      }
    }
    if (file.endsWith('.css')) {
      for (const m of text.matchAll(/url\(\s*["']?(?:\.\/|\/console\/assets\/)([^"')]+)["']?\s*\)/g)) {
        pending.push(`assets/${m[1]}`);
      }
    }
  }
  return [...found].sort();
}

it('loads under 300 kB gzipped, as built and as the browser receives it', async () => {
  const indexHtml = readFileSync(join(DIST, 'index.html'));
  const files = ['index.html', ...filesLoadedBy(indexHtml.toString('utf8'))];
  const sizes = files.map((file) => {
    const raw = readFileSync(join(DIST, file));
    return { file, raw: raw.byteLength, gzipped: gzipSync(raw, { level: 9 }).byteLength };
  });
  const built = sizes.reduce((sum, s) => sum + s.gzipped, 0);
  const raw = sizes.reduce((sum, s) => sum + s.raw, 0);

  const browser = await launchChromium();
  try {
    const opened = await newConsolePage(browser, running.origin);
    await opened.page.goto(`${running.origin}/console/`);
    await enterKey(opened.page, ADMIN_KEY);
    await chartData(opened.page, 'overview-trend');
    await opened.page.locator('[data-table=top-tenants] a', { hasText: 'acme' }).click();
    await chartData(opened.page, 'tenant-usage');
    // What came from /console/ (the page's own files; the API answers are data, not page weight), as sent.
    const received = await opened.page.evaluate(() =>
      [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
        .map((e) => e as PerformanceResourceTiming)
        .filter((e) => new URL(e.name).pathname.startsWith('/console/'))
        .map((e) => ({
          path: new URL(e.name).pathname,
          encoded: e.encodedBodySize,
          decoded: e.decodedBodySize,
        })),
    );
    const pageFiles = received.filter((r) => r.path.startsWith('/console/assets/') || r.path === '/console/');
    expect(pageFiles.length).toBeGreaterThanOrEqual(3);
    for (const r of pageFiles) {
      const file = r.path === '/console/' ? 'index.html' : r.path.slice('/console/'.length);
      const expected = sizes.find((s) => s.file === file);
      expect(expected, `${r.path} loaded but not found from index.html`).toBeDefined();
      expect([r.encoded, r.decoded], r.path).toEqual([expected!.gzipped, expected!.raw]);
    }
    expect(opened.problems).toEqual([]);
  } finally {
    await browser.close();
  }
  console.log(
    `[page-weight] ${files.length} files (${files.join(', ')}): ${raw} bytes, ${built} bytes gzipped; budget ${BUDGET_BYTES}`,
  );
  expect(built).toBeLessThan(BUDGET_BYTES);
});
