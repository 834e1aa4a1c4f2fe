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
import { decodeResource, decodeScope } from './common.ts';
import {
  decodeExponentialHistogramDataPoint,
  decodeHistogramDataPoint,
  decodeNumberDataPoint,
} from './data-points.ts';
import {
  ExponentialHistogram,
  ExportMetricsServiceRequest,
  Gauge,
  Histogram,
  Metric,
  ResourceMetrics,
  ScopeMetrics,
  Sum,
  Summary,
} from './field-numbers.ts';
import { expectWire, readMessageField, readRepeatedMessage, readStringField } from './field-reading.ts';
import type { AttributeSink, ProtoDecoder } from './proto-decoder.ts';
import { readTag, readVarint, skipField, WireType } from './wire-reader.ts';

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
  const resource: AttributeSink = { attributes: undefined, attributeCount: 0 };
  const scopeMetrics: InputScopeMetrics[] = [];
  let si = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case ResourceMetrics.resource:
        readMessageField(d, tag, end, 'resource', decodeResource, resource);
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
  return { resource: resource.attributes ?? EMPTY_ATTRIBUTES, scopeMetrics };
}

function decodeScopeMetrics(
  d: ProtoDecoder,
  end: number,
  ri: number,
  si: number,
): InputScopeMetrics | undefined {
  let scope: InstrumentationScopeInfo = { name: '', version: '' };
  const metrics: InputMetric[] = [];
  let mi = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case ScopeMetrics.scope:
        scope = readMessageField(d, tag, end, 'scope', decodeScope, scope);
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
  return { scope, metrics };
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

/** The fields of a data message besides `data_points`; absent where its message has no such field. */
interface DataMessageFields {
  readonly data_points: number;
  readonly aggregation_temporality?: number;
  readonly is_monotonic?: number;
}

type PointDecoder = (d: ProtoDecoder, end: number, draft: MetricDraft, index: number) => void;

/** Each member of `Metric.data`: its message, and how one of its points is decoded (Summary's are only counted). */
const DATA_MESSAGES: Readonly<
  Record<DataKind, { readonly fields: DataMessageFields; readonly decodePoint: PointDecoder | undefined }>
> = {
  gauge: { fields: Gauge, decodePoint: decodeNumberDataPoint },
  sum: { fields: Sum, decodePoint: decodeNumberDataPoint },
  histogram: { fields: Histogram, decodePoint: decodeHistogramDataPoint },
  exponentialHistogram: { fields: ExponentialHistogram, decodePoint: decodeExponentialHistogramDataPoint },
  summary: { fields: Summary, decodePoint: undefined },
};

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
  const { fields, decodePoint } = DATA_MESSAGES[draft.kind!];
  while (d.pos < end) {
    const tag = readTag(d, end);
    const field = tag >>> 3;
    if (field === fields.data_points) {
      if (decodePoint !== undefined) {
        readRepeatedMessage(d, tag, end, 'dataPoints', draft.seenPoints, decodePoint, draft);
      } else {
        // Summaries are not supported; their points are only counted, to report them as rejected.
        expectWire(tag, WireType.LEN, 'dataPoints');
        draft.seenPoints++;
        skipField(d, tag, end);
      }
    } else if (field === fields.aggregation_temporality) {
      expectWire(tag, WireType.VARINT, 'aggregationTemporality');
      readVarint(d, end);
      draft.temporality = d.lo | 0;
    } else if (field === fields.is_monotonic) {
      expectWire(tag, WireType.VARINT, 'isMonotonic');
      readVarint(d, end);
      draft.monotonic = d.lo !== 0 || d.hi !== 0;
    } else skipField(d, tag, end);
  }
}
