import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
} from '../../src/otlp/index.ts';
import {
  collectFromSdk,
  EVERYTHING_VIEWS,
  expectedBatch,
  recordEverything,
  type TemporalityName,
} from './sdk-fixtures.ts';

function protobufOf(rm: ResourceMetrics): Uint8Array {
  const bytes = ProtobufMetricsSerializer.serializeRequest(rm);
  if (bytes === undefined) throw new Error('serializer returned nothing');
  return bytes;
}

function jsonOf(rm: ResourceMetrics): string {
  const bytes = JsonMetricsSerializer.serializeRequest(rm);
  if (bytes === undefined) throw new Error('serializer returned nothing');
  return new TextDecoder().decode(bytes);
}

describe.each<TemporalityName>(['delta', 'cumulative'])(
  'requests from the real SDK exporter (%s)',
  (temporality) => {
    it('decode from protobuf to exactly what the SDK recorded, over several collections', async () => {
      const collections = await collectFromSdk(temporality, recordEverything, {
        rounds: 3,
        views: EVERYTHING_VIEWS,
      });
      for (const rm of collections) {
        const result = decodeExportMetricsServiceRequestProtobuf(protobufOf(rm));
        expect(result.rejectionMessages).toEqual([]);
        expect(result.rejectedDataPoints).toBe(0);
        expect(result.batch).toEqual(expectedBatch(rm));
        const points = rm.scopeMetrics
          .flatMap((sm) => sm.metrics)
          .reduce((n, m) => n + m.dataPoints.length, 0);
        expect(result.acceptedDataPoints).toBe(points);
      }
    });

    it('decode from JSON to exactly what the SDK recorded, over several collections', async () => {
      const collections = await collectFromSdk(temporality, recordEverything, {
        rounds: 3,
        views: EVERYTHING_VIEWS,
      });
      for (const rm of collections) {
        const result = decodeExportMetricsServiceRequestJson(jsonOf(rm));
        expect(result.rejectionMessages).toEqual([]);
        expect(result.batch).toEqual(expectedBatch(rm));
      }
    });

    it('decode protobuf and JSON of the same export to the same batch', async () => {
      const [rm] = await collectFromSdk(temporality, recordEverything, { views: EVERYTHING_VIEWS });
      const fromProtobuf = decodeExportMetricsServiceRequestProtobuf(protobufOf(rm!));
      const fromJson = decodeExportMetricsServiceRequestJson(jsonOf(rm!));
      expect(fromJson).toEqual(fromProtobuf);
    });
  },
);
