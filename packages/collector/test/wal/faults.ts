/**
 * Fault injection around the real processor, for requests of one marked tenant: the stand-in for a bug a
 * request's content triggers (a merge that throws `RangeError: Invalid array length`, a heap exhaustion that
 * kills the process). Everything else goes to the real code. Wrapping `consume` and `replayInput` covers the
 * live apply and the replay of the write-ahead log alike.
 */
import type { InputBatch } from '@tallyhouse/model';
import type { TenantProcessor } from '@tallyhouse/processor-tenant';

export type ApplyFault =
  /** Throws before applying anything. */
  | 'throw'
  /** Applies the request's first metric, then throws: a throw part-way through applying. */
  | 'partial'
  /** The process dies on the spot (as on a V8 heap out-of-memory): no handler runs. */
  | 'kill';

export const INJECTED_MESSAGE = 'Invalid array length (injected fault)';

export function injectApplyFault(processor: TenantProcessor, tenant: string, fault: ApplyFault) {
  const consume = processor.consume.bind(processor);
  processor.consume = (input, request, options) => {
    if (request?.tenant !== tenant) return consume(input, request, options);
    return strike(fault, input, (part) => consume(part, request, options));
  };
  const replayInput = processor.replayInput.bind(processor);
  processor.replayInput = (input, request, arrivalMs) => {
    if (request.tenant !== tenant) return replayInput(input, request, arrivalMs);
    return strike(fault, input, (part) => replayInput(part, request, arrivalMs));
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
