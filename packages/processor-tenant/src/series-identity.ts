import { createHash } from 'node:crypto';
import type {
  Attributes,
  HistogramValue,
  InstrumentationScopeInfo,
  MetricInfo,
  PointKind,
  PointValue,
  SeriesPoint,
} from '@tallyhouse/model';
import {
  canonicalAttributes,
  encodeAttributes,
  encodeAttributesWith,
  isLatestValueKind,
} from '@tallyhouse/model';

/**
 * Series identity = tenant + kept resource attributes + metric (name, unit, point type, monotonicity)
 * + canonical attribute set (+ bucket bounds for explicit histograms, so different bounds never merge).
 * Gauges and summaries are the exception: their values belong to their source, so their identity holds the source's
 * resource attributes (all of them, bounded: `sourceResource`) and its scope instead of the kept resource —
 * two hosts reporting the same gauge never overwrite each other, where their sums add.
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

/** A gauge's rows keep at most this many resource attributes of their source… */
export const MAX_SOURCE_RESOURCE_ATTRIBUTES = 64;
/** …and at most this many bytes of their encoding. */
export const MAX_SOURCE_RESOURCE_BYTES = 8_192;
/** Replaces what a too-large source resource leaves out: the SHA-256 of its whole encoding, in hex. */
export const SOURCE_DIGEST_ATTRIBUTE = 'tallyhouse.resource.sha256';

/**
 * The resource attributes a gauge series is identified by and stored with: all of the source's, canonicalised.
 * A resource beyond the bounds (rare: SDK resources carry a few dozen small attributes) keeps its first
 * attributes in name order that fit, plus `SOURCE_DIGEST_ATTRIBUTE`, so sources that differ only in what was
 * left out still differ — in memory and in storage, which reads gauges per source.
 */
export function sourceResource(resource: Attributes): Attributes {
  const canonical = canonicalAttributes(resource);
  const encoded = encodeAttributes(canonical);
  const names = Object.keys(canonical);
  if (
    names.length <= MAX_SOURCE_RESOURCE_ATTRIBUTES &&
    Buffer.byteLength(encoded) <= MAX_SOURCE_RESOURCE_BYTES
  )
    return canonical;
  const digest = createHash('sha256').update(encoded).digest('hex');
  // Room for the digest attribute itself (name, 64 hex digits, quotes and commas).
  let room = MAX_SOURCE_RESOURCE_BYTES - 128;
  const kept: [string, Attributes[string]][] = [];
  for (const name of names) {
    if (kept.length === MAX_SOURCE_RESOURCE_ATTRIBUTES - 1) break;
    if (name === SOURCE_DIGEST_ATTRIBUTE) continue;
    const value = canonical[name]!;
    const size = Buffer.byteLength(encodeAttributes(Object.fromEntries([[name, value]])));
    if (size > room) break;
    room -= size;
    kept.push([name, value]);
  }
  kept.push([SOURCE_DIGEST_ATTRIBUTE, digest]);
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
 * Identity of a gauge within its source (`sourceResource` + scope name and version — what storage reads gauges by;
 * the scope's attributes describe it, they do not tell sources apart); the buffer's first level for gauges.
 */
export function gaugeSourceKey(
  sourceResourceAttributes: Attributes,
  scope: InstrumentationScopeInfo,
  metric: MetricInfo,
): string {
  return `[${encodeAttributes(sourceResourceAttributes)},${JSON.stringify([scope.name, scope.version])},${metricPart(metric)}]`;
}

/** The buffer's first level for a point handed off before (a gauge's `resource` is its source resource). */
export function slotKeyOfPoint(point: SeriesPoint): string {
  return isLatestValueKind(point.metric.kind)
    ? gaugeSourceKey(point.resource, point.scope, point.metric)
    : metricKey(point.resource, point.metric);
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
  return `${slotKeyOfPoint(point)}${JSON.stringify(point.tenant)}${seriesKeyOfPoint(point)}`;
}
