/**
 * The request and the metric messages above the data points in OTLP/JSON: `resourceMetrics`,
 * `scopeMetrics`, `metrics` and the data messages of a metric's `data` oneof.
 */
import type {
  Attributes,
  InputResourceMetrics,
  InputScopeMetrics,
  InstrumentationScopeInfo,
} from '@tallyhouse/model';
import { isLatestValueKind } from '@tallyhouse/model';
import { EMPTY_ATTRIBUTES } from '../attribute-building.ts';
import {
  type DataKind,
  finishMetric,
  type MetricDraft,
  newMetricDraft,
  resetMetricData,
} from '../metric-assembly.ts';
import { decodeAttributes } from './common.ts';
import { decodeDataPoint } from './data-points.ts';
import type { JsonDecoder } from './json-decoder.ts';
import {
  arrayField,
  asObject,
  boolField,
  decodeElements,
  eachElement,
  enumField,
  field,
  get,
  type JsonObject,
  stringField,
  uint32Field,
  withPath,
} from './json-values.ts';

// A Map: the name comes from the payload, and on an object "constructor" would find Object.
const TEMPORALITY_NAMES: ReadonlyMap<string, number> = new Map([
  ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 0],
  ['AGGREGATION_TEMPORALITY_DELTA', 1],
  ['AGGREGATION_TEMPORALITY_CUMULATIVE', 2],
]);

/** The `Metric.data` oneof in field-number order: JSON names (camel, snake) per kind. */
const DATA_MEMBERS: readonly (readonly [DataKind, string, string])[] = [
  ['gauge', 'gauge', 'gauge'],
  ['sum', 'sum', 'sum'],
  ['histogram', 'histogram', 'histogram'],
  ['exponentialHistogram', 'exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary', 'summary'],
];

export function decodeRequest(d: JsonDecoder, request: JsonObject): InputResourceMetrics[] {
  const list = arrayField(request, 'resourceMetrics', 'resource_metrics');
  return decodeElements(list, 'resourceMetrics', (rm, ri) => decodeResourceMetrics(d, rm, ri));
}

function decodeResourceMetrics(d: JsonDecoder, rm: JsonObject, ri: number): InputResourceMetrics | undefined {
  const resource = field(rm, 'resource', 'resource', decodeResource, EMPTY_ATTRIBUTES);
  const list = arrayField(rm, 'scopeMetrics', 'scope_metrics');
  const scopeMetrics = decodeElements(list, 'scopeMetrics', (sm, si) => decodeScopeMetrics(d, sm, ri, si));
  if (scopeMetrics.length === 0) return undefined;
  const schemaUrl = stringField(rm, 'schemaUrl', 'schema_url');
  return schemaUrl === '' ? { resource, scopeMetrics } : { resource, schemaUrl, scopeMetrics };
}

function decodeResource(value: unknown): Attributes {
  return decodeAttributes(asObject(value));
}

function decodeScope(value: unknown): InstrumentationScopeInfo {
  const scope = asObject(value);
  const attributes = decodeAttributes(scope);
  const dropped = uint32Field(scope, 'droppedAttributesCount', 'dropped_attributes_count');
  return {
    name: stringField(scope, 'name', 'name'),
    version: stringField(scope, 'version', 'version'),
    ...(attributes === EMPTY_ATTRIBUTES ? {} : { attributes }),
    ...(dropped === 0 ? {} : { droppedAttributesCount: dropped }),
  };
}

function decodeScopeMetrics(
  d: JsonDecoder,
  sm: JsonObject,
  ri: number,
  si: number,
): InputScopeMetrics | undefined {
  const scope = field(sm, 'scope', 'scope', decodeScope, { name: '', version: '' });
  const list = arrayField(sm, 'metrics', 'metrics');
  const metrics = decodeElements(list, 'metrics', (metric, mi) =>
    finishMetric(decodeMetric(d, metric), d, ri, si, mi),
  );
  if (metrics.length === 0) return undefined;
  const schemaUrl = stringField(sm, 'schemaUrl', 'schema_url');
  return { scope: schemaUrl === '' ? scope : { ...scope, schemaUrl }, metrics };
}

function decodeMetric(d: JsonDecoder, metric: JsonObject): MetricDraft {
  const draft = newMetricDraft();
  draft.name = stringField(metric, 'name', 'name');
  draft.description = stringField(metric, 'description', 'description');
  draft.unit = stringField(metric, 'unit', 'unit');
  // A oneof: if a sender sets several, the last in field-number order wins, like protobuf's last-wins.
  let chosen: (typeof DATA_MEMBERS)[number] | undefined;
  let data: unknown;
  for (const member of DATA_MEMBERS) {
    const value = get(metric, member[1], member[2]);
    if (value !== undefined) {
      chosen = member;
      data = value;
    }
  }
  if (chosen === undefined) return draft;
  const [kind, name] = chosen;
  resetMetricData(draft, kind);
  withPath(data, name, (value) => {
    const message = asObject(value);
    if (!isLatestValueKind(kind)) {
      draft.temporality = enumField(
        message,
        'aggregationTemporality',
        'aggregation_temporality',
        TEMPORALITY_NAMES,
      );
    }
    if (kind === 'sum') draft.monotonic = boolField(message, 'isMonotonic', 'is_monotonic');
    eachElement(arrayField(message, 'dataPoints', 'data_points'), 'dataPoints', (point, pi) =>
      decodeDataPoint(d, point, draft, pi),
    );
  });
  return draft;
}
