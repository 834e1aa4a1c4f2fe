import type { InputBatch, SeriesPoint } from '@tallyhouse/model';
import type { AccumulatorStats } from '../../src/accumulator.ts';
import type { AccumulatorOptions, ConsumeReport, RequestTenant } from '../../src/index.ts';

/**
 * A golden scenario, in the spirit of the Collector's `testdata/<scenario>/{input,output}`: a sequence of
 * steps against one `Accumulator` and the exact points the final `take()` hands off.
 */
export interface Scenario {
  /** The behaviour, in snake_case, as the test name. */
  readonly name: string;
  /** Accumulator options; the clock is fixed by the runner. */
  readonly options?: AccumulatorOptions;
  readonly steps: readonly ScenarioStep[];
  /** Exactly what the final `take()` returns (compared in series order). */
  readonly output: readonly SeriesPoint[];
  /** Counters checked after the final `take()` (only the ones named). */
  readonly stats?: Partial<Omit<AccumulatorStats, 'rejectedPoints'>> & {
    rejectedPoints?: Partial<AccumulatorStats['rejectedPoints']>;
  };
}

export type ScenarioStep =
  /** `consume(input, request)`; `refusedWith` names the error code the whole input must be refused with. */
  | {
      readonly consume: InputBatch;
      readonly request?: RequestTenant;
      readonly refusedWith?: string;
      readonly report?: Partial<ConsumeReport>;
    }
  /** `take()` in the middle of the scenario; the points stay in flight until a `settle` step. */
  | { readonly take: readonly SeriesPoint[] }
  /** Settles the last mid-scenario take: the next stage took all of it, or failed all of it. */
  | { readonly settle: 'took-all' | 'failed-all' };
