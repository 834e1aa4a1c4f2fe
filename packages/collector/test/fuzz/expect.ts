/**
 * From accepted points to what storage must hold per (table, metric) of one tenant, and the comparison with
 * what it does hold. Sums compare exactly (as exact rationals over all stored rows, so a merge that would
 * overflow may keep points apart), within the rounding the merges are allowed when values are not integers;
 * histograms compare counts exactly; gauges must hold only values that were sent. Cumulative points become
 * deltas by the processor's documented rules (first point in full, resets, stale points), simulated here.
 * Points of unsettled fate ("uncertain") may be stored or rejected, but the choice must add up with
 * `partial_success.rejected_data_points`.
 */
import type { AttributeValue, HistogramValue } from '@tallyhouse/model';
import { type AcceptedPoint, canon, processorRejects, type Table } from './model.ts';

export interface TenantExpectation {
  /** Points rejected for sure (decoder rules and processor value rules). */
  readonly certainRejected: number;
  /** Points that may go either way. */
  readonly optional: number;
  /** `table\0metric` → points that reach the processor's merge, in arrival order. */
  readonly groups: ReadonlyMap<string, readonly AcceptedPoint[]>;
  /** Points the decoder accepted (certain and uncertain), for the summary. */
  readonly accepted: number;
}

export function groupKey(table: Table, metric: string): string {
  return `${table}\u0000${metric}`;
}

export function expectationOf(points: readonly AcceptedPoint[], decoderRejected: number): TenantExpectation {
  const groups = new Map<string, AcceptedPoint[]>();
  let certainRejected = decoderRejected;
  let optional = 0;
  for (const p of points) {
    if (processorRejects(p.kind, p.value)) {
      certainRejected++;
      continue;
    }
    const key = groupKey(p.table, p.metricName);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [p]);
    else list.push(p);
    if (p.uncertain !== undefined) optional++;
  }
  return { certainRejected, optional, groups, accepted: points.length };
}

/** What storage holds for one (tenant, table, metric). */
export interface StoredMetric {
  readonly rows: number;
  /** Sum and gauge rows: every `Value`. */
  readonly values: number[];
  /** Histogram tables: the sum of `Count` over all rows. */
  readonly count: bigint;
}

interface Outcome {
  readonly terms: number[];
  /**
   * A cumulative sum's change was rounded (its values are not both integers). The collector may take such a
   * stream's change over several points in one subtraction (a held range, see the processor's shared stream
   * marks), which rounds differently from the chain of single steps: only the merge tolerance applies then.
   */
  readonly rounded: boolean;
  readonly gauges: number[];
  readonly count: bigint;
}

const UNKNOWN = Symbol('unknown');

// ---- cumulative to delta, as processor-tenant documents it ----

function withoutTenant(attributes: { [key: string]: AttributeValue }): { [key: string]: AttributeValue } {
  // The tenant attribute is not part of series (nor stream) identity.
  const out: Record<string, AttributeValue> = {};
  for (const key of Object.keys(attributes)) {
    if (key !== 'tenant.id') Object.defineProperty(out, key, { value: attributes[key], enumerable: true });
  }
  return out;
}

function streamKey(p: AcceptedPoint): string {
  const bounds = p.kind === 'histogram' ? (p.value as HistogramValue).bounds : undefined;
  return canon([
    p.resource,
    p.scope.name,
    p.scope.version,
    p.metricName,
    p.unit,
    p.kind,
    p.monotonic,
    withoutTenant(p.attributes),
    bounds ?? null,
  ]);
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The change of a cumulative point, or `undefined` for a reset (counted in full). */
function diff(p: AcceptedPoint, previous: AcceptedPoint): number | bigint | undefined | typeof UNKNOWN {
  if (p.kind === 'sum') {
    const prev = (previous.value as { value: number }).value;
    const cur = (p.value as { value: number }).value;
    if (p.monotonic && cur < prev) return undefined;
    const change = cur - prev;
    return Number.isFinite(change) ? change : undefined;
  }
  if (p.kind === 'histogram') {
    const prev = previous.value as HistogramValue;
    const cur = p.value as HistogramValue;
    if (!sameBounds(prev.bounds, cur.bounds) || cur.count < prev.count) return undefined;
    if (prev.bucketCounts.length !== cur.bucketCounts.length) return undefined;
    if (!Number.isFinite(cur.sum - prev.sum)) return undefined;
    if (cur.bucketCounts.some((c, i) => c - (prev.bucketCounts[i] ?? 0) < 0)) return undefined;
    return BigInt(cur.count - prev.count);
  }
  // Exponential histograms: the scale and bucket rules are not modelled here.
  return UNKNOWN;
}

function fullContribution(p: AcceptedPoint): number | bigint {
  if (p.kind === 'summary') return (p.value as { count: number }).count;
  return p.kind === 'sum' || p.kind === 'gauge'
    ? (p.value as { value: number }).value
    : BigInt((p.value as { count: number }).count);
}

function simulate(points: readonly AcceptedPoint[]): Outcome | typeof UNKNOWN {
  const terms: number[] = [];
  const gauges: number[] = [];
  let count = 0n;
  let rounded = false;
  const streams = new Map<string, AcceptedPoint>();
  const add = (p: AcceptedPoint, contribution: number | bigint) => {
    if (p.kind === 'sum') terms.push(contribution as number);
    // A summary is a reading like a gauge: its rows hold the counts of some of its points, never their sum.
    else if (p.kind === 'gauge' || p.kind === 'summary') gauges.push(contribution as number);
    else count += contribution as bigint;
  };
  for (const p of points) {
    if (p.kind === 'gauge' || p.kind === 'summary' || p.temporality === 'delta') {
      add(p, fullContribution(p));
      continue;
    }
    const key = streamKey(p);
    const previous = streams.get(key);
    if (previous === undefined) {
      add(p, fullContribution(p));
      streams.set(key, p);
      continue;
    }
    if (p.start < previous.start) continue; // stale: from an earlier life of the stream
    if (p.start !== previous.start || p.time > previous.time) {
      const change = p.start !== previous.start ? undefined : diff(p, previous);
      if (change === UNKNOWN) return UNKNOWN;
      if (p.kind === 'sum' && change !== undefined) rounded ||= !integralSumValues(p, previous);
      add(p, change === undefined ? fullContribution(p) : change);
      streams.set(key, p);
    }
    // else stale: not newer than the stream's last point
  }
  return { terms, gauges, count, rounded };
}

function integralSumValues(p: AcceptedPoint, previous: AcceptedPoint): boolean {
  return [p, previous].every((point) => Number.isInteger((point.value as { value: number }).value));
}

// ---- exact sums ----

/** `x · 2^1074` as an exact integer: every finite double is one. */
export function scaled(x: number): bigint {
  if (x === 0) return 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let shift: number;
  if (exponent === 0) shift = 0;
  else {
    mantissa |= 1n << 52n;
    shift = exponent - 1;
  }
  const value = mantissa << BigInt(shift);
  return bits >> 63n === 1n ? -value : value;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/** Stored sum rows against the expected terms: exact for integers, within merge rounding otherwise. */
function sumsMatch(terms: readonly number[], stored: readonly number[], rounded: boolean): boolean {
  if (stored.some((v) => !Number.isFinite(v))) return false;
  const expected = terms.reduce((a, t) => a + scaled(t), 0n);
  const actual = stored.reduce((a, v) => a + scaled(v), 0n);
  if (expected === actual) return true;
  const magnitude = terms.reduce((a, t) => a + abs(scaled(t)), 0n);
  const integral = !rounded && terms.every((t) => Number.isInteger(t)) && magnitude <= scaled(2 ** 53);
  if (integral) return false;
  // Each addition of a merge rounds by at most half an ulp of a partial sum ≤ Σ|t|.
  const tolerance = (BigInt(terms.length + 1) * magnitude) >> 52n;
  return abs(expected - actual) <= tolerance + 1n;
}

function gaugesMatch(values: readonly number[], stored: StoredMetric): boolean {
  if (values.length === 0) return stored.rows === 0;
  if (stored.rows === 0) return false;
  // NaN is a reading like any other (the shared finite-value rule keeps gauges as sent).
  return stored.values.every((v) => values.some((w) => v === w || (Number.isNaN(v) && Number.isNaN(w))));
}

function outcomeMatches(table: Table, outcome: Outcome, stored: StoredMetric): boolean {
  switch (table) {
    case 'sum':
      return (
        sumsMatch(outcome.terms, stored.values, outcome.rounded) &&
        (outcome.terms.length > 0 || stored.rows === 0)
      );
    case 'gauge':
    case 'summary':
      return gaugesMatch(outcome.gauges, stored);
    default:
      return outcome.count === stored.count;
  }
}

export const EMPTY_STORED: StoredMetric = { rows: 0, values: [], count: 0n };

export interface GroupVerdict {
  /** How many uncertain points may have been rejected for storage to look like this; empty: no way. */
  readonly droppable: ReadonlySet<number>;
  readonly unknown: boolean;
  /** What was expected with every point stored (for reports). */
  readonly expected: string;
}

function describeOutcome(table: Table, outcome: Outcome | typeof UNKNOWN): string {
  if (outcome === UNKNOWN) return 'not modelled';
  if (table === 'sum')
    return `sum of ${outcome.terms.length} terms = ${outcome.terms.reduce((a, b) => a + b, 0)}`;
  if (table === 'gauge' || table === 'summary')
    return `${table} values ${JSON.stringify(outcome.gauges.slice(0, 8).map(String))}`;
  return `count ${outcome.count}`;
}

export function describeStored(table: Table, stored: StoredMetric): string {
  if (table === 'sum')
    return `${stored.rows} rows, values ${JSON.stringify(stored.values.slice(0, 8).map(String))}`;
  if (table === 'gauge' || table === 'summary')
    return `${stored.rows} rows, values ${JSON.stringify(stored.values.slice(0, 8).map(String))}`;
  return `${stored.rows} rows, count ${stored.count}`;
}

/** Which numbers of dropped uncertain points make `points` store exactly `stored`. */
export function verifyGroup(
  table: Table,
  points: readonly AcceptedPoint[],
  stored: StoredMetric,
): GroupVerdict {
  const optional = points.map((p, i) => (p.uncertain === undefined ? -1 : i)).filter((i) => i >= 0);
  const all = simulate(points);
  if (all === UNKNOWN) {
    return {
      droppable: new Set(optional.map((_, i) => i).concat(optional.length)),
      unknown: true,
      expected: 'not modelled',
    };
  }
  const droppable = new Set<number>();
  // Every subset of the uncertain points when there are few, else none / all / one at a time.
  const masks: number[][] = [];
  if (optional.length <= 10) {
    for (let mask = 0; mask < 1 << optional.length; mask++)
      masks.push(optional.filter((_, j) => (mask >> j) & 1));
  } else {
    masks.push([], optional, ...optional.map((i) => [i]));
  }
  for (const dropped of masks) {
    const drop = new Set(dropped);
    const outcome = dropped.length === 0 ? all : simulate(points.filter((_, i) => !drop.has(i)));
    if (outcome === UNKNOWN) {
      droppable.add(dropped.length);
      continue;
    }
    if (outcomeMatches(table, outcome, stored)) droppable.add(dropped.length);
  }
  return { droppable, unknown: false, expected: describeOutcome(table, all) };
}

/** Whether choices of dropped counts, one per group, can add up to `target`. */
export function canAddUp(choices: readonly ReadonlySet<number>[], target: number): boolean {
  let reachable = new Set([0]);
  for (const choice of choices) {
    const next = new Set<number>();
    for (const r of reachable) for (const c of choice) if (r + c <= target) next.add(r + c);
    reachable = next;
    if (reachable.size === 0) return false;
  }
  return reachable.has(target);
}
