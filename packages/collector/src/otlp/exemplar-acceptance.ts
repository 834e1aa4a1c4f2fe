/**
 * Which decoded exemplars are kept. An exemplar is a sample beside a point's value, not usage: one that cannot be
 * stored is dropped and reported in `partial_success` (as a warning: its point is kept and counted), never its
 * point. The protobuf and JSON decoders both feed this, so both encodings keep and drop the same exemplars.
 *
 * Bounded: a point keeps its `MAX_EXEMPLARS_PER_POINT` most recent exemplars by time. While a point is decoded
 * at most twice that many are held (trimmed as they come), so a point carrying a million exemplars costs no more
 * memory than one carrying twenty.
 */
import {
  type Attributes,
  type Exemplar,
  MAX_EXEMPLARS_PER_POINT,
  MAX_STORABLE_TIME_UNIX_NANO,
  mostRecentExemplars,
} from '@tallyhouse/model';

/** An exemplar as decoded, before the rules: ids as lowercase hex (`''` when absent). */
export interface ExemplarFields {
  readonly filteredAttributes: Attributes;
  readonly time: bigint;
  /** `undefined` when neither `asDouble` nor `asInt` was set. */
  readonly value: number | undefined;
  /** The field the value came from (`asDouble`, `asInt`), for messages. */
  readonly valueField: string;
  readonly spanId: string;
  readonly traceId: string;
}

/** Why an exemplar was dropped: which one of the point, its field (may be ''), and the reason. */
export interface ExemplarDrop {
  readonly exemplar: number;
  readonly field: string;
  readonly reason: string;
}

/** A point's exemplars while it is decoded: the kept ones (bounded) and the first drops. */
export interface PointExemplars {
  kept: Exemplar[] | undefined;
  drops: ExemplarDrop[] | undefined;
  dropped: number;
  /** Exemplars seen so far, to number them in messages. */
  seen: number;
}

/** Drop messages kept per point: enough to name the problem, bounded whatever the point carries. */
const MAX_DROP_MESSAGES = 3;

const SPAN_ID_HEX_DIGITS = 16;
const TRACE_ID_HEX_DIGITS = 32;
const LOWER_HEX = /^[0-9a-f]*$/;
const ZEROS = /^0*$/;

export function newPointExemplars(): PointExemplars {
  return { kept: undefined, drops: undefined, dropped: 0, seen: 0 };
}

/** Keeps `fields` in `into` as an exemplar, or records why it is dropped. */
export function addExemplar(into: PointExemplars, fields: ExemplarFields): void {
  const index = into.seen++;
  const problem = exemplarProblem(fields);
  if (problem !== undefined) {
    into.dropped++;
    if (into.drops === undefined) into.drops = [];
    if (into.drops.length < MAX_DROP_MESSAGES) into.drops.push({ exemplar: index, ...problem });
    return;
  }
  const exemplar: Exemplar = {
    filteredAttributes: fields.filteredAttributes,
    timeUnixNano: fields.time,
    value: fields.value as number,
    // All-zero ids are invalid ids in OTLP: the exemplar has no trace context.
    spanId: ZEROS.test(fields.spanId) ? '' : fields.spanId,
    traceId: ZEROS.test(fields.traceId) ? '' : fields.traceId,
  };
  if (into.kept === undefined) into.kept = [];
  into.kept.push(exemplar);
  if (into.kept.length > 2 * MAX_EXEMPLARS_PER_POINT) into.kept = [...mostRecentExemplars(into.kept)];
}

/** The point's exemplars as the model holds them: its most recent ones, oldest first; `undefined` if none. */
export function keptExemplars(exemplars: PointExemplars): readonly Exemplar[] | undefined {
  return exemplars.kept === undefined ? undefined : mostRecentExemplars(exemplars.kept);
}

function exemplarProblem(fields: ExemplarFields): Omit<ExemplarDrop, 'exemplar'> | undefined {
  if (fields.value === undefined) return { field: '', reason: 'it has neither asDouble nor asInt' };
  if (!Number.isFinite(fields.value)) {
    return { field: fields.valueField, reason: `${fields.value} is not finite` };
  }
  if (fields.time > MAX_STORABLE_TIME_UNIX_NANO) {
    return {
      field: 'timeUnixNano',
      reason: `${fields.time} is past 2^63 - 1 ns, the last time storage holds`,
    };
  }
  return (
    idProblem(fields.spanId, SPAN_ID_HEX_DIGITS, 'spanId') ??
    idProblem(fields.traceId, TRACE_ID_HEX_DIGITS, 'traceId')
  );
}

function idProblem(hex: string, digits: number, field: string): Omit<ExemplarDrop, 'exemplar'> | undefined {
  if (hex === '' || (hex.length === digits && LOWER_HEX.test(hex))) return undefined;
  const shown = hex.length > 2 * digits ? `${hex.slice(0, 2 * digits)}…` : hex;
  return {
    field,
    reason: `${JSON.stringify(shown)} is not an id of ${digits / 2} bytes (${digits} hex digits)`,
  };
}

/** Lowercase hex of id bytes (protobuf `bytes` fields). */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
