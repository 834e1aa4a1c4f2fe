/**
 * How a decoded OTLP `Metric` becomes an `InputMetric`: the draft a decoder fills (its points already judged
 * one by one, see `point-acceptance.ts`; their exemplars by `exemplar-acceptance.ts`), then the metric-level
 * rules (name, temporality).
 * The protobuf and JSON decoders both feed these, so both encodings accept and reject the same metrics with
 * the same messages.
 */
import type { InputMetric, InputPoint, PointKind, Temporality } from '@tallyhouse/model';
import { isLatestValueKind } from '@tallyhouse/model';
import type { DecodeTally } from './decode-result.ts';
import type { ExemplarDrop } from './exemplar-acceptance.ts';

/** The `Metric.data` oneof, named as in OTLP/JSON: every member is a kind of point Tallyhouse stores. */
export type DataKind = PointKind;

/** An exemplar dropped from a kept point: which point, and why (see `exemplar-acceptance.ts`). */
interface PointExemplarDrop extends ExemplarDrop {
  readonly point: number;
}

/** A point-level rejection: which point, which of its fields (may be ''), and why. */
interface PointRejection {
  readonly index: number;
  readonly field: string;
  readonly reason: string;
}

/** One decoded `Metric` message before the acceptance rules ran on its metric-level fields. */
export interface MetricDraft {
  name: string;
  description: string;
  unit: string;
  /** `undefined` when the metric carries no data (nothing to accept or reject). */
  kind: DataKind | undefined;
  /** Raw `AggregationTemporality` enum value (0 unspecified, 1 delta, 2 cumulative). */
  temporality: number;
  monotonic: boolean;
  /** Points that passed the point rules, in order. */
  points: InputPoint[];
  /** Points that failed them; `undefined` (not `[]`) while there are none, to spare an allocation. */
  rejections: PointRejection[] | undefined;
  /** Every data point seen, accepted, rejected or without recorded value. */
  seenPoints: number;
  /** Exemplars dropped from accepted points, and the first few reasons (`undefined` while there are none). */
  droppedExemplars: number;
  exemplarDrops: PointExemplarDrop[] | undefined;
}

export function newMetricDraft(): MetricDraft {
  return {
    name: '',
    description: '',
    unit: '',
    kind: undefined,
    temporality: 0,
    monotonic: false,
    points: [],
    rejections: undefined,
    seenPoints: 0,
    droppedExemplars: 0,
    exemplarDrops: undefined,
  };
}

/** Switching the oneof (a later data field wins, as in protobuf) discards what the earlier one held. */
export function resetMetricData(draft: MetricDraft, kind: DataKind): void {
  draft.kind = kind;
  draft.temporality = 0;
  draft.monotonic = false;
  draft.points = [];
  draft.rejections = undefined;
  draft.seenPoints = 0;
  draft.droppedExemplars = 0;
  draft.exemplarDrops = undefined;
}

/** Drop messages kept per metric (each names a point and an exemplar); the count covers all. */
const MAX_EXEMPLAR_DROP_MESSAGES = 5;

/** Records the exemplars dropped from point `index`, which is kept. */
export function recordExemplarDrops(
  draft: MetricDraft,
  index: number,
  dropped: number,
  drops: readonly ExemplarDrop[] | undefined,
): void {
  draft.droppedExemplars += dropped;
  if (drops === undefined) return;
  for (const drop of drops) {
    if (draft.exemplarDrops === undefined) draft.exemplarDrops = [];
    if (draft.exemplarDrops.length >= MAX_EXEMPLAR_DROP_MESSAGES) return;
    draft.exemplarDrops.push({ point: index, ...drop });
  }
}

export function rejectPoint(draft: MetricDraft, index: number, field: string, reason: string): void {
  const rejection = { index, field, reason };
  if (draft.rejections === undefined) draft.rejections = [rejection];
  else draft.rejections.push(rejection);
}

/**
 * Applies the metric-level rules to a finished draft, logs its rejections and counts its accepted points.
 * Returns the `InputMetric` holding the accepted points, or `undefined` when none remain. The indexes place
 * the metric in the request (`resourceMetrics[ri].scopeMetrics[si].metrics[mi]`) in rejection messages.
 */
export function finishMetric(
  draft: MetricDraft,
  tally: DecodeTally,
  ri: number,
  si: number,
  mi: number,
): InputMetric | undefined {
  const kind = draft.kind;
  if (kind === undefined || draft.seenPoints === 0) return undefined;
  const accepted = draft.points.length;
  const label = `metric ${JSON.stringify(draft.name)}`;
  const path = () => `resourceMetrics[${ri}].scopeMetrics[${si}].metrics[${mi}]`;
  const log = tally.log;

  let metricProblem: string | undefined;
  let temporality: Temporality = 'cumulative';
  if (draft.name === '') {
    metricProblem = 'the metric name is empty';
  } else if (!isLatestValueKind(kind)) {
    // Gauges and summaries have no temporality: they are readings, kept as sent.
    if (draft.temporality === 1) temporality = 'delta';
    else if (draft.temporality === 2) temporality = 'cumulative';
    else if (draft.temporality === 0) {
      metricProblem = 'aggregationTemporality is UNSPECIFIED (0); it must be DELTA (1) or CUMULATIVE (2)';
    } else {
      metricProblem = `aggregationTemporality ${draft.temporality} is unknown; it must be DELTA (1) or CUMULATIVE (2)`;
    }
  }

  if (metricProblem !== undefined) {
    // The whole metric goes, including points that would have been rejected anyway.
    const rejected = accepted + (draft.rejections?.length ?? 0);
    const noun = rejected === 1 ? 'point' : 'points';
    log.reject(rejected, `${path()}.${kind}: ${label}: ${rejected} data ${noun} rejected: ${metricProblem}`);
    return undefined;
  }

  if (draft.rejections !== undefined) {
    const base = `${path()}.${kind}.dataPoints`;
    for (const rejection of draft.rejections) {
      const field = rejection.field === '' ? '' : `.${rejection.field}`;
      log.reject(1, `${base}[${rejection.index}]${field}: ${label}: ${rejection.reason}`);
    }
  }
  if (accepted === 0) return undefined;
  tally.accepted += accepted;
  if (draft.droppedExemplars > 0) {
    const base = `${path()}.${kind}.dataPoints`;
    const described = draft.exemplarDrops ?? [];
    for (const drop of described) {
      const field = drop.field === '' ? '' : `.${drop.field}`;
      tally.exemplarLog.reject(
        1,
        `${base}[${drop.point}].exemplars[${drop.exemplar}]${field}: ${label}: exemplar dropped: ${drop.reason}`,
      );
    }
    tally.exemplarLog.count += draft.droppedExemplars - described.length;
  }
  return {
    metric: {
      name: draft.name,
      description: draft.description,
      unit: draft.unit,
      kind,
      monotonic: kind === 'sum' && draft.monotonic,
    },
    temporality,
    points: draft.points,
  } as InputMetric;
}
