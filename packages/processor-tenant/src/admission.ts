import type { InputPoint } from '@tallyhouse/model';
import type { ResolvedAccumulatorOptions } from './config.ts';
import { BufferFullError } from './errors.ts';
import type { MetricContext } from './input-walk.ts';
import type { SeriesCap } from './series-buffer.ts';

/** A point that passed validation and its tenant's stream share, waiting for the capacity check. */
export interface PreparedPoint {
  readonly context: MetricContext;
  readonly tenant: string;
  readonly point: InputPoint;
  /** The series' identity when it was not buffered at preparation (it needs room); `undefined` when it was. */
  readonly newSeriesKey: string | undefined;
  readonly streamKey: string | undefined;
}

/** What admission reads of the state: series held (buffered + in flight) and the cumulative streams tracked. */
export interface HeldState {
  heldSeries(): number;
  readonly streams: { readonly size: number; has(key: string): boolean };
}

type AdmissionOptions = Pick<
  ResolvedAccumulatorOptions,
  'maxBufferedSeries' | 'maxTrackedStreams' | 'maxSeriesPerTenant'
>;

/**
 * What may enter the buffer. An input is taken whole or refused whole (`BufferFullError`, retry later) when its
 * new series would pass `maxBufferedSeries` or its new cumulative streams `maxTrackedStreams`; merging into held
 * series needs no room. Within a tenant, a new series past `maxSeriesPerTenant` folds into the tenant's overflow
 * series instead, so totals stay exact.
 */
export class Admission implements SeriesCap {
  private readonly options: AdmissionOptions;
  private readonly state: HeldState;
  readonly counters = {
    /** Whole inputs refused because the buffer was full (the caller should retry later). */
    refusedBatches: 0,
    refusedPoints: 0,
    /** New series folded into a tenant's overflow series because the tenant hit its series cap. */
    overflowFolds: 0,
  };

  constructor(options: AdmissionOptions, state: HeldState) {
    this.options = options;
    this.state = state;
  }

  /** True when even if each of `points` made a new series and stream, no global cap would be exceeded. */
  surelyFits(points: number): boolean {
    return (
      this.state.heldSeries() + points <= this.options.maxBufferedSeries &&
      this.state.streams.size + points <= this.options.maxTrackedStreams
    );
  }

  /** Throws the `BufferFullError` (and counts the refusal) when `prepared` does not fit under the caps. */
  ensureRoom(prepared: readonly PreparedPoint[]) {
    const problem = this.capacityProblem(prepared);
    if (problem === undefined) return;
    this.counters.refusedBatches++;
    this.counters.refusedPoints += prepared.length;
    throw new BufferFullError(problem);
  }

  /** Why `prepared` would not fit under the caps, or `undefined` when it fits. */
  private capacityProblem(prepared: readonly PreparedPoint[]): string | undefined {
    const heldSeries = this.state.heldSeries();
    const trackedStreams = this.state.streams;
    const newSeries = new Set<string>();
    const newStreams = new Set<string>();
    for (const item of prepared) {
      if (item.streamKey !== undefined && !trackedStreams.has(item.streamKey)) newStreams.add(item.streamKey);
      if (item.newSeriesKey !== undefined)
        newSeries.add(`${item.context.slotKey}${JSON.stringify(item.tenant)}${item.newSeriesKey}`);
    }
    const { maxBufferedSeries, maxTrackedStreams } = this.options;
    if (heldSeries + newSeries.size > maxBufferedSeries) {
      return `buffer full: ${heldSeries} series held, ${newSeries.size} new would exceed maxBufferedSeries=${maxBufferedSeries}; retry later`;
    }
    if (trackedStreams.size + newStreams.size > maxTrackedStreams) {
      return `too many cumulative streams: ${trackedStreams.size} tracked, ${newStreams.size} new would exceed maxTrackedStreams=${maxTrackedStreams}; retry later`;
    }
    return undefined;
  }

  /** Whether a tenant holding `heldSeriesOfTenant` series may start another; a refusal counts as a fold. */
  admitsNewSeries(heldSeriesOfTenant: number): boolean {
    if (heldSeriesOfTenant < this.options.maxSeriesPerTenant) return true;
    this.counters.overflowFolds++;
    return false;
  }
}
