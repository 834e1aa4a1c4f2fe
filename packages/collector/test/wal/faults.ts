/**
 * Fault injection around the real accumulator, for requests of one marked tenant: the stand-in for a bug a
 * request's content triggers (a merge that throws `RangeError: Invalid array length`, a heap exhaustion that
 * kills the process). Everything else goes to the real code. Wrapping `accumulator.consume` covers the live
 * apply (through `TenantProcessor.consume`) and the replay (which applies to the accumulator directly).
 */
import type { InputBatch } from '@tallyhouse/model';
import type { Accumulator } from '@tallyhouse/processor-tenant';

export type ApplyFault =
  /** Throws before applying anything. */
  | 'throw'
  /** Applies the request's first metric, then throws: a throw part-way through applying. */
  | 'partial'
  /** The process dies on the spot (as on a V8 heap out-of-memory): no handler runs. */
  | 'kill';

export const INJECTED_MESSAGE = 'Invalid array length (injected fault)';

export function injectApplyFault(accumulator: Accumulator, tenant: string, fault: ApplyFault) {
  const consume = accumulator.consume.bind(accumulator);
  accumulator.consume = (input, request, options) => {
    if (request?.tenant !== tenant) return consume(input, request, options);
    if (fault === 'kill') process.kill(process.pid, 'SIGKILL');
    if (fault === 'partial') consume(firstMetricOnly(input), request, options);
    throw new RangeError(INJECTED_MESSAGE);
  };
}

function firstMetricOnly(input: InputBatch): InputBatch {
  const resource = input.resourceMetrics[0]!;
  const scope = resource.scopeMetrics[0]!;
  return { resourceMetrics: [{ ...resource, scopeMetrics: [{ ...scope, metrics: [scope.metrics[0]!] }] }] };
}
