import {
  OTLPMetricExporterBase,
  type OTLPMetricExporterOptions,
} from '@opentelemetry/exporter-metrics-otlp-http';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
  type OTLPExporterNodeConfigBase,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';

/**
 * OTLP/HTTP protobuf metric exporter built from the stock OpenTelemetry pieces, exactly as
 * `@opentelemetry/exporter-metrics-otlp-proto` builds its `OTLPMetricExporter` (that package is not installed
 * here): the stock base class (temporality selection), the stock Node HTTP export delegate (transport,
 * retries, timeouts) and the stock protobuf serializer.
 */
export class OTLPMetricProtobufExporter extends OTLPMetricExporterBase {
  constructor(config: OTLPExporterNodeConfigBase & OTLPMetricExporterOptions = {}) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', {
          'Content-Type': 'application/x-protobuf',
        }),
        ProtobufMetricsSerializer,
        'otlp_http_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
      ),
      config,
    );
  }
}
