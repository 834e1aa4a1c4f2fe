/**
 * The Grafana dashboard's Prometheus panels name only what a real collector exposes on `/metrics` (its own process
 * here: one embedded engine per process), with the labels they group by. (Its ClickHouse queries:
 * `dashboard.test.ts`.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '@tallyhouse/collector';
import { beforeAll, describe, expect, it } from 'vitest';

interface Target {
  readonly datasource: { readonly type: string };
  readonly expr?: string;
}
const dashboard = JSON.parse(readFileSync(new URL('../tallyhouse.json', import.meta.url), 'utf8')) as {
  readonly panels: readonly { readonly targets?: readonly Target[] }[];
};

describe('the dashboard’s Prometheus queries name what the collector exposes', () => {
  let exposition = '';

  beforeAll(async () => {
    const collector = new Collector({
      env: {
        TALLYHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'tallyhouse-grafana-collector-')),
        TALLYHOUSE_LOG_LEVEL: 'silent',
        TALLYHOUSE_WAL: 'false',
      },
      collector: { port: 0, grpcPort: 'off' },
    });
    const { port } = await collector.start();
    try {
      const base = `http://127.0.0.1:${port}`;
      const now = `${Date.now()}000000`;
      const body = {
        resourceMetrics: [
          {
            resource: { attributes: [] },
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'requests',
                    sum: {
                      aggregationTemporality: 1,
                      isMonotonic: true,
                      dataPoints: [{ asDouble: 1, startTimeUnixNano: now, timeUnixNano: now }],
                    },
                  },
                ],
              },
            ],
          },
        ],
      };
      const sent = await fetch(`${base}/v1/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant-id': 'acme' },
        body: JSON.stringify(body),
      });
      expect(sent.status).toBe(200);
      await collector.processor.forceFlush();
      exposition = await (await fetch(`${base}/metrics`)).text();
    } finally {
      await collector.stop();
    }
  }, 60_000);

  it('every metric a panel names is exposed, and every label it groups by is one the metric has', () => {
    const typed = new Map<string, string>();
    for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) typed.set(name!, type!);
    const exposed = new Set(typed.keys());
    for (const [name, type] of typed)
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(`${name}${suffix}`);
    const expressions = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).filter((t) => t.datasource.type === 'prometheus').map((t) => t.expr ?? ''),
    );
    expect(expressions.length).toBeGreaterThanOrEqual(8);
    for (const expr of expressions) {
      const names = [...expr.matchAll(/\btallyhouse_\w+/g)].map(([name]) => name);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(exposed.has(name), `${name} in ${expr}`).toBe(true);
      // Labels grouped by: present on the metric's samples (metrics without samples yet declare none to check).
      const grouped =
        /\bby \(([^)]*)\)/
          .exec(expr)?.[1]
          ?.split(',')
          .map((label) => label.trim()) ?? [];
      for (const name of names) {
        const samples = exposition.split('\n').filter((line) => line.startsWith(`${name}{`));
        for (const label of grouped.filter((l) => l !== 'le')) {
          for (const sample of samples)
            expect(sample, `${label} of ${name}`).toMatch(new RegExp(`[{,]${label}="`));
        }
      }
    }
    // The check can fail: a name the collector does not expose is caught.
    expect(exposed.has('tallyhouse_points_total')).toBe(false);
  });
});
