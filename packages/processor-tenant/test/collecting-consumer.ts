import type { ConsumeResult, SeriesBatch, SeriesBatchConsumer, SeriesPoint } from '@tallyhouse/model';

/** A next stage that records what it takes and can be told to fail. */
export class CollectingConsumer implements SeriesBatchConsumer {
  readonly batches: SeriesBatch[] = [];
  /** Return a failure result for the next N batches (all points failed). */
  failNext = 0;
  /** When set, fails exactly the points the predicate selects. */
  failWhere: ((point: SeriesPoint) => boolean) | undefined;
  /** Resolves when released; lets a test hold a flush in flight. */
  gate: Promise<void> | undefined;

  async consumeBatch(batch: SeriesBatch): Promise<ConsumeResult> {
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      return { ok: false, error: new Error('injected failure'), failed: batch.points };
    }
    const failed = this.failWhere ? batch.points.filter(this.failWhere) : [];
    const taken = batch.points.filter((point) => !failed.includes(point));
    this.batches.push({ id: batch.id, points: taken });
    return failed.length > 0
      ? { ok: false, error: new Error('injected partial failure'), failed }
      : { ok: true };
  }

  points(): SeriesPoint[] {
    return this.batches.flatMap((batch) => batch.points);
  }

  /** Sum values per tenant across everything taken. */
  sumsByTenant(metricName?: string): Record<string, number> {
    const totals: Record<string, number> = {};
    for (const point of this.points()) {
      if (point.metric.kind !== 'sum' || (metricName && point.metric.name !== metricName)) continue;
      totals[point.tenant] = (totals[point.tenant] ?? 0) + (point.value as { value: number }).value;
    }
    return totals;
  }
}
