/**
 * Fault injection around the real processor, for requests of one marked tenant: the stand-in for a bug a
 * request's content triggers (a merge that throws `RangeError: Invalid array length`, a heap exhaustion that
 * kills the process). Everything else goes to the real code. Wrapping `consume` and `replayInput` covers the
 * live apply and the replay of the write-ahead log alike.
 */
import { fileURLToPath } from 'node:url';
import type { InputBatch } from '@tallyhouse/model';
import type { TenantProcessor } from '@tallyhouse/processor-tenant';

/** The module that injects the fault into the real bin, configured by env (see fault-preload.ts). */
export const FAULT_PRELOAD = fileURLToPath(new URL('./fault-preload.ts', import.meta.url));

export type ApplyFault =
  /** Throws before applying anything. */
  | 'throw'
  /** Applies the request's first metric, then throws: a throw part-way through applying. */
  | 'partial'
  /** The process dies on the spot (as on a V8 heap out-of-memory): no handler runs. */
  | 'kill';

export const INJECTED_MESSAGE = 'Invalid array length (injected fault)';

/** Wraps `consume` and `replayInput` of one processor, or of every one when given the prototype. */
export function injectApplyFault(
  target: Pick<TenantProcessor, 'consume' | 'replayInput'>,
  tenant: string,
  fault: ApplyFault,
) {
  const { consume, replayInput } = target;
  target.consume = function (this: TenantProcessor, input, request, options) {
    if (request?.tenant !== tenant) return consume.call(this, input, request, options);
    return strike(fault, input, (part) => consume.call(this, part, request, options));
  };
  target.replayInput = function (this: TenantProcessor, input, request, arrivalMs) {
    if (request.tenant !== tenant) return replayInput.call(this, input, request, arrivalMs);
    return strike(fault, input, (part) => replayInput.call(this, part, request, arrivalMs));
  };
}

function strike(fault: ApplyFault, input: InputBatch, apply: (part: InputBatch) => void): never {
  if (fault === 'kill') process.kill(process.pid, 'SIGKILL');
  if (fault === 'partial') apply(firstMetricOnly(input));
  throw new RangeError(INJECTED_MESSAGE);
}

function firstMetricOnly(input: InputBatch): InputBatch {
  const resource = input.resourceMetrics[0]!;
  const scope = resource.scopeMetrics[0]!;
  return { resourceMetrics: [{ ...resource, scopeMetrics: [{ ...scope, metrics: [scope.metrics[0]!] }] }] };
}
