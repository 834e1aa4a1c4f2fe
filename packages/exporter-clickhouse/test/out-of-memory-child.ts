// Opens the embedded engine through the exporter, then runs out of heap (run with a small --max-old-space-size).
import { silentLogger } from '@tallyhouse/model';
import { ClickHouseMetricExporter } from '../src/index.ts';

const exporter = new ClickHouseMetricExporter({ dataDir: process.argv[2], logger: silentLogger, env: {} });
await exporter.start();
process.stdout.write('started\n');
const hoard: number[][] = [];
for (;;) hoard.push(new Array<number>(1_000_000).fill(hoard.length));
