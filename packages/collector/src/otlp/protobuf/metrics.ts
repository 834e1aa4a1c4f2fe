/**
 * The request and the metric messages above the data points: `ExportMetricsServiceRequest`,
 * `ResourceMetrics`, `ScopeMetrics`, `Metric` and the data messages of its `data` oneof (`Gauge`, `Sum`,
 * `Histogram`, `ExponentialHistogram`, `Summary`).
 */
import type {
  InputMetric,
  InputResourceMetrics,
  InputScopeMetrics,
  InstrumentationScopeInfo,
} from '@tallyhouse/model';
import { EMPTY_ATTRIBUTES } from '../attribute-building.ts';
import {
  type DataKind,
  finishMetric,
  type MetricDraft,
  newMetricDraft,
  resetMetricData,
} from '../metric-assembly.ts';
import { type AttributeSink, decodeResource, decodeScope } from './common.ts';
import { decodeDataPoint } from './data-points.ts';
import { expectWire, readMessageField, readRepeatedMessage, readStringField } from './field-reading.ts';
import type { ProtoDecoder } from './proto-decoder.ts';
import { readTag, readVarint, skipField, WireType } from './wire-reader.ts';

// Field numbers, as collector/metrics/v1/metrics_service.proto and metrics/v1/metrics.proto declare them
// (see README-otlp).
const ExportMetricsServiceRequest = { resource_metrics: 1 } as const;
const ResourceMetrics = {
  resource: 1,
  scope_metrics: 2,
  schema_url: 3,
} as const;
const ScopeMetrics = {
  scope: 1,
  metrics: 2,
  schema_url: 3,
} as const;
const Metric = {
  name: 1,
  description: 2,
  unit: 3,
  // oneof data
  gauge: 5,
  sum: 7,
  histogram: 9,
  exponential_histogram: 10,
  summary: 11,
  metadata: 12, // skipped
} as const;
const Gauge = { data_points: 1 } as const;
const Sum = { data_points: 1, aggregation_temporality: 2, is_monotonic: 3 } as const;
const Histogram = { data_points: 1, aggregation_temporality: 2 } as const;
const ExponentialHistogram = { data_points: 1, aggregation_temporality: 2 } as const;
const Summary = { data_points: 1 } as const;

const { VARINT } = WireType;

/** The fields of a data message; absent where its message has no such field. */
interface DataMessageFields {
  readonly data_points: number;
  readonly aggregation_temporality?: number;
  readonly is_monotonic?: number;
}

/** The message of each member of `Metric.data`. */
const DATA_MESSAGES: Readonly<Record<DataKind, DataMessageFields>> = {
  gauge: Gauge,
  sum: Sum,
  histogram: Histogram,
  exponentialHistogram: ExponentialHistogram,
  summary: Summary,
};

export function decodeRequest(d: ProtoDecoder, end: number): InputResourceMetrics[] {
  const out: InputResourceMetrics[] = [];
  let index = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag >>> 3 === ExportMetricsServiceRequest.resource_metrics) {
      const rm = readRepeatedMessage(
        d,
        tag,
        end,
        'resourceMetrics',
        index++,
        decodeResourceMetrics,
        undefined,
      );
      if (rm !== undefined) out.push(rm);
    } else skipField(d, tag, end);
  }
  return out;
}

function decodeResourceMetrics(
  d: ProtoDecoder,
  end: number,
  _: undefined,
  ri: number,
): InputResourceMetrics | undefined {
  // Every occurrence of `resource` adds its attributes to the same set (a merge).
  const resource: AttributeSink = { attributes: undefined, count: 0 };
  const scopeMetrics: InputScopeMetrics[] = [];
  let schemaUrl = '';
  let si = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case ResourceMetrics.resource:
        readMessageField(d, tag, end, 'resource', decodeResource, resource);
        break;
      case ResourceMetrics.schema_url:
        schemaUrl = readStringField(d, tag, end, 'schemaUrl');
        break;
      case ResourceMetrics.scope_metrics: {
        const sm = readRepeatedMessage(d, tag, end, 'scopeMetrics', si++, decodeScopeMetrics, ri);
        if (sm !== undefined) scopeMetrics.push(sm);
        break;
      }
      default:
        skipField(d, tag, end);
    }
  }
  if (scopeMetrics.length === 0) return undefined;
  const attributes = resource.attributes ?? EMPTY_ATTRIBUTES;
  return schemaUrl === ''
    ? { resource: attributes, scopeMetrics }
    : { resource: attributes, schemaUrl, scopeMetrics };
}

function decodeScopeMetrics(
  d: ProtoDecoder,
  end: number,
  ri: number,
  si: number,
): InputScopeMetrics | undefined {
  let scope: InstrumentationScopeInfo = { name: '', version: '' };
  let schemaUrl = '';
  const metrics: InputMetric[] = [];
  let mi = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case ScopeMetrics.scope:
        scope = readMessageField(d, tag, end, 'scope', decodeScope, scope);
        break;
      case ScopeMetrics.schema_url:
        schemaUrl = readStringField(d, tag, end, 'schemaUrl');
        break;
      case ScopeMetrics.metrics: {
        const draft = readRepeatedMessage(d, tag, end, 'metrics', mi, decodeMetric, undefined);
        const metric = finishMetric(draft, d, ri, si, mi++);
        if (metric !== undefined) metrics.push(metric);
        break;
      }
      default:
        skipField(d, tag, end);
    }
  }
  if (metrics.length === 0) return undefined;
  return { scope: schemaUrl === '' ? scope : { ...scope, schemaUrl }, metrics };
}

function decodeMetric(d: ProtoDecoder, end: number): MetricDraft {
  const draft = newMetricDraft();
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case Metric.name:
        draft.name = readStringField(d, tag, end, 'name');
        break;
      case Metric.description:
        draft.description = readStringField(d, tag, end, 'description');
        break;
      case Metric.unit:
        draft.unit = readStringField(d, tag, end, 'unit');
        break;
      case Metric.gauge:
        readDataField(d, tag, end, draft, 'gauge');
        break;
      case Metric.sum:
        readDataField(d, tag, end, draft, 'sum');
        break;
      case Metric.histogram:
        readDataField(d, tag, end, draft, 'histogram');
        break;
      case Metric.exponential_histogram:
        readDataField(d, tag, end, draft, 'exponentialHistogram');
        break;
      case Metric.summary:
        readDataField(d, tag, end, draft, 'summary');
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return draft;
}

/**
 * One member of the metric's `data` oneof; errors name it (`kind` is its OTLP/JSON name). Another member than
 * the one held so far replaces it; the same member again is merged into it (its points add up, later scalars
 * win).
 */
function readDataField(d: ProtoDecoder, tag: number, end: number, draft: MetricDraft, kind: DataKind): void {
  if (draft.kind !== kind) resetMetricData(draft, kind);
  readMessageField(d, tag, end, kind, decodeDataMessage, draft);
}

function decodeDataMessage(d: ProtoDecoder, end: number, draft: MetricDraft): void {
  const kind = draft.kind!;
  const fields = DATA_MESSAGES[kind];
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case fields.data_points:
        readRepeatedMessage(d, tag, end, 'dataPoints', draft.seenPoints, decodeDataPoint, draft);
        break;
      case fields.aggregation_temporality:
        expectWire(tag, VARINT, 'aggregationTemporality');
        readVarint(d, end);
        draft.temporality = d.lo | 0;
        break;
      case fields.is_monotonic:
        expectWire(tag, VARINT, 'isMonotonic');
        readVarint(d, end);
        draft.monotonic = d.lo !== 0 || d.hi !== 0;
        break;
      default:
        skipField(d, tag, end);
    }
  }
}
