/**
 * The collector as `src/bin.ts` runs it, plus an apply fault (faults.ts) for one tenant, configured by env:
 * `FAULT_TENANT` and `FAULT` (`throw`, `partial`, `kill`). The fault is part of this process's code, so it
 * strikes the live apply and the replay alike — as a bug in the merge would.
 *
 *   node --conditions=@tallyhouse/source packages/collector/test/wal/faulty-collector.ts
 */
import { ConfigError } from '@tallyhouse/model';
import { Collector } from '../../src/collector.ts';
import { type ApplyFault, injectApplyFault } from './faults.ts';

let collector: Collector;
try {
  collector = new Collector();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`tallyhouse: invalid configuration: ${error.message}`);
  process.exit(2);
}
const tenant = process.env.FAULT_TENANT;
if (tenant !== undefined) {
  injectApplyFault(collector.processor, tenant, (process.env.FAULT ?? 'throw') as ApplyFault);
}
await collector.start();
await new Promise<void>((resolve) => {
  process.once('SIGTERM', () => resolve());
  process.once('SIGINT', () => resolve());
});
const outcome = await collector.stop();
process.exitCode = outcome.drained ? 0 : 1;
