/**
 * Preloaded into the real bin (`node --import`; `startCollectorProcess({ preload: [FAULT_PRELOAD] })`), it
 * injects an apply fault (faults.ts) for one tenant into every TenantProcessor, configured by env:
 * `FAULT_TENANT` and `FAULT` (`throw`, `partial`, `kill`). The fault is part of the process's code, so it
 * strikes the live apply and the replay alike — as a bug in the merge would.
 */
import { TenantProcessor } from '@tallyhouse/processor-tenant';
import { type ApplyFault, injectApplyFault } from './faults.ts';

const tenant = process.env.FAULT_TENANT;
if (tenant !== undefined) {
  injectApplyFault(TenantProcessor.prototype, tenant, (process.env.FAULT ?? 'throw') as ApplyFault);
}
