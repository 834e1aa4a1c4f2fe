import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import {
  type ConsumeResult,
  isSeriesBatchConsumer,
  type SeriesBatch,
  type SeriesBatchConsumer,
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
    const parts = toResourceMetrics(batch, this.tenantAttribute);
    for (const [index, part] of parts.entries()) {
      const result = await new Promise<ExportResult>((resolve) =>
        this.exporter.export(part.resourceMetrics, resolve),
      );
      if (result.code !== ExportResultCode.SUCCESS) {
        // A plain exporter answers all-or-nothing per call: the parts it already took are done.
        const failed = parts.slice(index).flatMap((rest) => rest.points);
        return { ok: false, error: result.error ?? new Error('next exporter reported FAILED'), failed };
      }
    }
    return { ok: true };
  }

  async forceFlush(): Promise<void> {
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.exporter.shutdown?.();
  }
}
