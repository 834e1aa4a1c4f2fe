import type {
  Attributes,
  HistogramValue,
  InstrumentationScopeInfo,
  MetricInfo,
  PointKind,
  PointValue,
  SeriesPoint,
} from '@tallyhouse/model';
import { canonicalAttributes, encodeAttributes, encodeAttributesWith } from '@tallyhouse/model';

/**
 * Series identity = tenant + kept resource attributes + metric (name, unit, point type, monotonicity)
 * + canonical attribute set (+ bucket bounds for explicit histograms, so different bounds never merge).
 *
 * Keys are structured encodings (see canonical-attributes.ts): JSON texts, each self-delimiting, so
 * joining parts is still injective and two distinct identities can never produce the same key. Keys are
 * used as-is (no lossy hash: Map hashes them and compares whole strings on a hit). The buffer nests maps by
 * metric → tenant → attribute set, so tenants are compared as whole strings, never spliced into text; at the
 * last level a `SeriesTable` finds the attribute set by its values, the same identity without the text.
 */

/** The attribute set of a tenant's overflow series, once it exceeds its series cap. */
export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** The resource attributes kept in identity and storage, canonicalised. */
export function keptResource(resource: Attributes, keep: readonly string[]): Attributes {
  const kept: [string, Attributes[string]][] = [];
  for (const key of keep) {
    // Own properties only: a kept name such as `toString` must not find Object.prototype's.
    const value = Object.hasOwn(resource, key) ? resource[key] : undefined;
    if (value !== undefined) kept.push([key, value]);
  }
  return canonicalAttributes(Object.fromEntries(kept));
}

function metricPart(metric: MetricInfo): string {
  return JSON.stringify([metric.name, metric.unit, metric.kind, metric.monotonic]);
}

/** Identity of a metric within the kept resource; the buffer's first level. */
export function metricKey(keptResourceAttributes: Attributes, metric: MetricInfo): string {
  return `[${encodeAttributes(keptResourceAttributes)},${metricPart(metric)}]`;
}

/**
 * Identity of a series within its metric and tenant: the attribute set without `skipKey` (the tenant
 * attribute), plus the bounds for explicit-bucket histograms.
 */
export function seriesKey(
  attributes: Attributes,
  skipKey: string | undefined,
  kind: PointKind,
  value: PointValue,
): string {
  return kind === 'histogram'
    ? encodeAttributesWith(attributes, skipKey, (value as HistogramValue).bounds)
    : encodeAttributes(attributes, skipKey);
}

export function seriesKeyOfPoint(point: SeriesPoint): string {
  return seriesKey(point.attributes, undefined, point.metric.kind, point.value);
}

/**
 * Prefix of a cumulative source stream's key: the full resource and the scope take part, because two
 * app instances of one service each send their own running totals.
 */
export function sourceStreamPrefix(
  resource: Attributes,
  scope: InstrumentationScopeInfo,
  metric: MetricInfo,
): string {
  return `[${encodeAttributes(resource)},${JSON.stringify([scope.name, scope.version])},${metricPart(metric)}]`;
}

/** The complete identity of a series as one key, for tests and diagnostics. */
export function fullSeriesKey(point: SeriesPoint): string {
  return `${metricKey(point.resource, point.metric)}${JSON.stringify(point.tenant)}${seriesKeyOfPoint(point)}`;
}
