import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import {
  type ConsumeResult,
  isSeriesBatchConsumer,
  type SeriesBatch,
  type SeriesBatchConsumer,
  type SeriesPoint,
} from '@tallyhouse/model';
import { toResourceMetrics } from './sdk-adapter.ts';

/** The processor's next stage as a batch consumer: a Tallyhouse one as it is, an SDK exporter behind the adapter. */
export function batchConsumerOf(
  next: SeriesBatchConsumer | PushMetricExporter,
  tenantAttribute: string,
): SeriesBatchConsumer {
  return isSeriesBatchConsumer(next) ? next : new SdkExporterStage(next, tenantAttribute);
}

/**
 * Any SDK `PushMetricExporter` (OTLP, console…) as a next stage: each batch converted back to `ResourceMetrics`,
 * one export call per kept resource, the tenant as the `tenantAttribute` point attribute.
 */
export class SdkExporterStage implements SeriesBatchConsumer {
  private readonly exporter: PushMetricExporter;
  private readonly tenantAttribute: string;

  constructor(exporter: PushMetricExporter, tenantAttribute: string) {
    this.exporter = exporter;
    this.tenantAttribute = tenantAttribute;
  }

  async consumeBatch(batch: SeriesBatch): Promise<ConsumeResult> {
    const { parts, summaries } = toResourceMetrics(batch, this.tenantAttribute);
    for (const [index, part] of parts.entries()) {
      const result = await new Promise<ExportResult>((resolve) =>
        this.exporter.export(part.resourceMetrics, resolve),
      );
      if (result.code !== ExportResultCode.SUCCESS) {
        // A plain exporter answers all-or-nothing per call: the parts it already took are done.
        const failed = [...parts.slice(index).flatMap((rest) => rest.points), ...summaries];
        return { ok: false, error: result.error ?? new Error('next exporter reported FAILED'), failed };
      }
    }
    // Kept, not dropped: each series holds only its latest summary, so what is kept stays bounded.
    if (summaries.length > 0)
      return { ok: false, error: summariesNotExportable(summaries), failed: summaries };
    return { ok: true };
  }

  async forceFlush(): Promise<void> {
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.exporter.shutdown?.();
  }
}

/** The SDK's `MetricData` has no summary type (only OTLP input carries summaries), so none can be exported. */
function summariesNotExportable(summaries: readonly SeriesPoint[]): Error {
  const names = [...new Set(summaries.map((point) => JSON.stringify(point.metric.name)))];
  return new Error(
    `${summaries.length} summary point(s) of metric(s) ${names.slice(0, 5).join(', ')} cannot be handed to an SDK exporter: the SDK has no summary data point type; use the ClickHouse exporter (or another Tallyhouse stage) for OTLP input that carries summaries`,
  );
}
