import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import {
  ClickHouseMetricExporter,
  encodeBatch,
  METRIC_COLUMNS,
  openEmbeddedConnection,
  silentLogger,
} from './src/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'prof-'));
const N = 50000;
const mk = (tag: string) => {
  const pts: any[] = [];
  for (let i = 0; i < N; i++)
    pts.push({
      tenant: `${tag}${i % 20}`,
      resource: { 'host.name': `host-${i % 50}`, 'service.name': `svc-${i % 5}` },
      scope: { name: 'bench', version: '1.0.0' },
      attributes: { method: 'GET', route: `/api/v1/items/${i % 100}`, status: String(200 + (i % 3)) },
      startTimeUnixNano: 1700000000000000000n,
      timeUnixNano: 1700000000000000000n + BigInt(i) * 1000000n,
      metric: { name: `m${i % 30}`, description: 'b', unit: 'ms', kind: 'gauge', monotonic: false },
      value: { value: i * 0.25 },
    });
  return pts;
};
const exporter = new ClickHouseMetricExporter({ dataDir, logger: silentLogger, env: {} });
await exporter.start();
const conn = (exporter as any).connection;
const chconn: any = openEmbeddedConnection(dataDir);
const raw = createClient({ connection: chconn });
const cols = METRIC_COLUMNS.otel_metrics_gauge.map((c) => c.name);
const res: Record<string, number[]> = { insertEncoded: [], execFromBuffer: [], consumeBatch: [] };
const settings = (t: string) => ({
  insert_deduplicate: 1,
  insert_deduplication_token: t,
  async_insert: 0,
  wait_for_async_insert: 1,
  async_insert_deduplicate: 1,
});
for (let r = 0; r < 6; r++) {
  const b1 = encodeBatch(mk('c' + r), { tenantAttribute: 'tenant.id' }).tables[0]!.lines.join('\n') + '\n';
  const b2 = encodeBatch(mk('k' + r), { tenantAttribute: 'tenant.id' }).tables[0]!.lines.join('\n') + '\n';
  const pts = mk('z' + r);
  let t = performance.now();
  await conn.insertEncoded({
    qualifiedTable: 'otel.otel_metrics_gauge',
    columns: cols,
    format: 'JSONCompactEachRow',
    body: b1,
    settings: settings('a' + r),
  });
  res.insertEncoded!.push(performance.now() - t);
  t = performance.now();
  const e = await raw.exec({
    query: `INSERT INTO otel.otel_metrics_gauge (${cols.join(',')}) FORMAT JSONCompactEachRow`,
    values: Readable.from([Buffer.from(b2)], { objectMode: false }),
    clickhouse_settings: settings('b' + r),
  });
  for await (const _ of e.stream) {
  }
  res.execFromBuffer!.push(performance.now() - t);
  t = performance.now();
  await exporter.consumeBatch({ id: 'x' + r, points: pts });
  res.consumeBatch!.push(performance.now() - t);
  t = performance.now();
}
for (const [k, v] of Object.entries(res))
  console.log(k, v.map((x) => x | 0).join(' '), 'median', [...v].sort((a, b) => a - b)[3]! | 0);
await exporter.shutdown();
await raw.close();
