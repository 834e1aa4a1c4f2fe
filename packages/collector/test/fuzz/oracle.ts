/**
 * The checks of one case that need no storage (answer, body, rejected count bounds, decoder agreement with
 * the model) and the storage verification of a whole session.
 */
import type { OtlpDecodeResult } from '../../src/otlp/index.ts';
import type { StoredDump } from '../support/stored-in-child.ts';
import type { FuzzCase } from './cases.ts';
import { MAX_BODY_BYTES } from './cases.ts';
import {
  canAddUp,
  describeStored,
  EMPTY_STORED,
  expectationOf,
  groupKey,
  type StoredMetric,
  type TenantExpectation,
  verifyGroup,
} from './expect.ts';
import { assess, pointText, type Table } from './model.ts';
import { flattenDecoded, type ReferenceOutcome, referenceOutcome } from './reference.ts';
import { parseExportResponse, parseStatus } from './response.ts';
import type { HttpOutcome } from './session.ts';

export type FailureCategory =
  | 'hang'
  | 'connection'
  | 'server-error'
  | 'status'
  | 'response'
  | 'rejected-count'
  | 'decoder'
  | 'reference-threw'
  | 'crash'
  | 'replay'
  | 'shutdown'
  | 'storage'
  | 'stored-after-refusal'
  | 'dead-letter'
  | 'quarantine'
  | 'foreign-tenant'
  | 'restart-changed-totals';

export interface Failure {
  /** The case, when one case is to blame. */
  readonly index: number | undefined;
  readonly category: FailureCategory;
  readonly message: string;
}

/** What storage must hold for a case's tenant once the session ends. */
export interface Pending {
  readonly case: FuzzCase;
  /** accepted: a 200; nothing: refused; maybe: no clear answer (timeout, connection lost, 5xx). */
  readonly expect: 'accepted' | 'nothing' | 'maybe';
  readonly expectation: TenantExpectation | undefined;
  readonly rejected: number | undefined;
}

export interface CaseResult {
  readonly status: number | 'timeout' | 'error';
  readonly rejected: number | undefined;
  /** Data points the request carried that the collector kept (200: points the decoder accepted − r). */
  readonly accepted: number;
  readonly failures: Failure[];
  readonly pending: Pending;
  readonly ms: number;
}

const PUSH_BACK = new Set([503, 429]);

/** Where two texts part: a little context and both continuations. */
export function difference(expected: string, actual: string | undefined): string {
  if (actual === undefined) return `expected ${expected.slice(0, 300)}, decoded nothing more`;
  let at = 0;
  while (at < expected.length && expected[at] === actual[at]) at++;
  const from = Math.max(0, at - 120);
  return `…${expected.slice(from, at)}⟨expected ${JSON.stringify(expected.slice(at, at + 120))}, decoded ${JSON.stringify(actual.slice(at, at + 120))}⟩`;
}

/** Decoder output vs the model: same accepted points (uncertain ones may be missing), same counts. */
export function decoderDisagreement(c: FuzzCase, decoded: OtlpDecodeResult): string | undefined {
  if (c.model === undefined) return undefined;
  const assessment = assess(c.model);
  const expected = assessment.decoded.map((p) => ({
    text: pointText(p),
    optional: p.uncertain !== undefined,
  }));
  const actual = flattenDecoded(decoded.batch).map(pointText);
  let j = 0;
  let dropped = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (actual[j] === e.text) {
      j++;
      continue;
    }
    if (e.optional) {
      dropped++;
      continue;
    }
    return `point ${i} of the model differs: ${difference(e.text, actual[j])}`;
  }
  if (j < actual.length)
    return `decoded ${actual.length - j} points more than the model: ${actual[j]!.slice(0, 400)}`;
  if (decoded.rejectedDataPoints !== assessment.decoderRejected + dropped) {
    return `decoder rejected ${decoded.rejectedDataPoints} points, the rules say ${assessment.decoderRejected + dropped}: ${decoded.rejectionMessages.slice(0, 3).join('; ')}`;
  }
  if (decoded.noRecordedValueDataPoints !== assessment.skipped) {
    return `decoder skipped ${decoded.noRecordedValueDataPoints} "no recorded value" points, the model has ${assessment.skipped}`;
  }
  return undefined;
}

/** Checks one answered case and says what storage must hold for it. */
export function judgeCase(c: FuzzCase, outcome: HttpOutcome): CaseResult {
  const failures: Failure[] = [];
  const fail = (category: FailureCategory, message: string) =>
    failures.push({ index: c.index, category, message });
  let reference: ReferenceOutcome | undefined;
  try {
    reference = referenceOutcome(c.request, MAX_BODY_BYTES);
  } catch (error) {
    fail(
      'reference-threw',
      `the collector's decoder threw in process: ${(error as Error).stack?.slice(0, 600)}`,
    );
  }

  let expectation: TenantExpectation | undefined;
  let expectedStatus: number | undefined;
  if (c.model !== undefined) {
    const assessment = assess(c.model);
    expectation = expectationOf(assessment.decoded, assessment.decoderRejected);
    expectedStatus = 200;
    if (reference !== undefined && reference.status !== 200) {
      fail(
        'decoder',
        `a valid request is refused by the decoder: ${'reason' in reference ? reference.reason : ''}`,
      );
    } else if (reference !== undefined && 'decoded' in reference) {
      const disagreement = decoderDisagreement(c, reference.decoded);
      if (disagreement !== undefined) fail('decoder', disagreement);
    }
  } else if (reference !== undefined) {
    expectedStatus = reference.status;
    if ('decoded' in reference) {
      expectation = expectationOf(
        flattenDecoded(reference.decoded.batch),
        reference.decoded.rejectedDataPoints,
      );
    }
  }

  const base = { ms: outcome.ms };
  /** No answer, or one that applied nothing: storage holds nothing of it (`nothing`) or may (`maybe`). */
  const notApplied = (
    status: CaseResult['status'],
    expect: 'nothing' | 'maybe',
    expected: TenantExpectation | undefined,
  ): CaseResult => ({
    ...base,
    status,
    rejected: undefined,
    accepted: 0,
    failures,
    pending: { case: c, expect, expectation: expected, rejected: undefined },
  });
  if (outcome.status === 'timeout' || outcome.status === 'error') {
    fail(outcome.status === 'timeout' ? 'hang' : 'connection', `${outcome.error}`);
    return notApplied(outcome.status, 'maybe', expectation);
  }
  const answered = outcome as Extract<HttpOutcome, { body: Buffer }>;
  const status = answered.status;
  const encoding = c.request.headers['content-type'] === undefined ? 'json' : (reference?.encoding ?? 'json');
  if (PUSH_BACK.has(status)) return notApplied(status, 'nothing', expectation);
  if (status >= 500) {
    fail('server-error', `answered ${status}: ${answered.body.toString('utf8').slice(0, 300)}`);
    return notApplied(status, 'maybe', expectation);
  }
  if (expectedStatus !== undefined && status !== expectedStatus) {
    const why =
      reference !== undefined && 'reason' in reference ? ` (${reference.reason.slice(0, 200)})` : '';
    fail(
      'status',
      `answered ${status}, expected ${expectedStatus}${why}: ${answered.body.toString('utf8').slice(0, 300)}`,
    );
  }
  if (status !== 200) {
    try {
      parseStatus(answered.body, encoding);
    } catch (error) {
      fail(
        'response',
        `the ${status} body is not a google.rpc.Status in ${encoding}: ${(error as Error).message}`,
      );
    }
    return notApplied(status, 'nothing', undefined);
  }
  let rejected: number | undefined;
  try {
    rejected = parseExportResponse(answered.body, encoding).rejected;
  } catch (error) {
    fail(
      'response',
      `the 200 body is not an ExportMetricsServiceResponse in ${encoding}: ${(error as Error).message}`,
    );
  }
  if (expectation !== undefined && rejected !== undefined) {
    const low = expectation.certainRejected;
    const high = low + expectation.optional;
    if (rejected < low || rejected > high) {
      fail(
        'rejected-count',
        `partial_success.rejected_data_points = ${rejected}, expected ${low === high ? low : `${low}..${high}`}`,
      );
    }
  }
  const decodedPoints = expectation === undefined ? 0 : expectation.accepted + expectation.certainRejected;
  return {
    ...base,
    status,
    rejected,
    accepted: Math.max(0, decodedPoints - (rejected ?? 0)),
    failures,
    pending: {
      case: c,
      expect: expectation === undefined ? 'maybe' : 'accepted',
      expectation,
      rejected,
    },
  };
}

// ---- storage ----

function float(bits: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(bits));
  return view.getFloat64(0);
}

type MutableStored = { rows: number; values: number[]; count: bigint };

export function storedByTenant(dump: StoredDump): Map<string, Map<string, MutableStored>> {
  const out = new Map<string, Map<string, MutableStored>>();
  for (const [tenant, table, metric, value] of dump.rows) {
    let metrics = out.get(tenant);
    if (metrics === undefined) {
      metrics = new Map();
      out.set(tenant, metrics);
    }
    const key = groupKey(table as Table, metric);
    let stored = metrics.get(key);
    if (stored === undefined) {
      stored = { rows: 0, values: [], count: 0n };
      metrics.set(key, stored);
    }
    stored.rows++;
    if (table === 'sum' || table === 'gauge') stored.values.push(float(value));
    // A summary row's count is a reading (compared as one), not usage that adds up.
    else if (table === 'summary') stored.values.push(Number(value));
    else stored.count += BigInt(value);
  }
  return out;
}

/** A comparable summary of a dump (per tenant, table and metric), to see that a restart changed nothing. */
export function totalsText(dump: StoredDump): Map<string, string> {
  const out = new Map<string, string>();
  for (const [tenant, metrics] of storedByTenant(dump)) {
    for (const [key, stored] of metrics) {
      out.set(
        `${tenant}\u0000${key}`,
        `${stored.rows}|${[...stored.values].sort().join(',')}|${stored.count}`,
      );
    }
  }
  return out;
}

function name(key: string): string {
  return key.replace('\u0000', ' ');
}

/** Storage against what every case of a session was told. */
export function verifyStorage(pending: readonly Pending[], dump: StoredDump): Failure[] {
  const failures: Failure[] = [];
  const stored = storedByTenant(dump);
  const known = new Set(pending.map((p) => p.case.tenant));
  for (const tenant of stored.keys()) {
    if (!known.has(tenant)) {
      failures.push({
        index: undefined,
        category: 'foreign-tenant',
        message: `rows stored for tenant ${JSON.stringify(tenant)}, which no case used`,
      });
    }
  }
  const byTenant = <T extends { tenant: string }>(list: readonly T[]) => {
    const map = new Map<string, T[]>();
    for (const item of list) map.set(item.tenant, [...(map.get(item.tenant) ?? []), item]);
    return map;
  };
  const dead = byTenant(dump.deadLetters);
  const quarantined = byTenant(dump.quarantined);
  for (const p of pending) {
    const c = p.case;
    const fail = (category: FailureCategory, message: string) =>
      failures.push({ index: c.index, category, message });
    const metrics = stored.get(c.tenant) ?? new Map<string, MutableStored>();
    for (const letter of dead.get(c.tenant) ?? []) {
      fail(
        'dead-letter',
        `storage refused rows of an acknowledged request (${letter.table}, ${letter.code}): ${letter.error}`,
      );
    }
    for (const q of quarantined.get(c.tenant) ?? [])
      fail('quarantine', `request quarantined (${q.id}): ${q.error}`);
    if (p.expect === 'nothing') {
      if (metrics.size > 0) {
        fail('stored-after-refusal', `refused, yet stored: ${[...metrics.keys()].map(name).join(', ')}`);
      }
      continue;
    }
    const expectation = p.expectation;
    if (expectation === undefined) continue;
    if (p.expect === 'maybe' && metrics.size === 0) continue;
    for (const key of metrics.keys()) {
      if (!expectation.groups.has(key)) {
        fail(
          'storage',
          `stored ${name(key)} (${describeStored(key.split('\u0000')[0] as Table, metrics.get(key)!)}), which was not accepted`,
        );
      }
    }
    const choices: ReadonlySet<number>[] = [];
    let mismatch = false;
    for (const [key, points] of expectation.groups) {
      const table = key.split('\u0000')[0] as Table;
      const got: StoredMetric = metrics.get(key) ?? EMPTY_STORED;
      const verdict = verifyGroup(table, points, got);
      if (verdict.droppable.size === 0) {
        mismatch = true;
        const uncertain = points.filter((pt) => pt.uncertain !== undefined).map((pt) => pt.uncertain);
        fail(
          'storage',
          `${name(key)}: ${points.length} accepted points${uncertain.length > 0 ? ` (${uncertain.length} uncertain: ${[...new Set(uncertain)].join(', ')})` : ''}; expected ${verdict.expected}; stored ${describeStored(table, got)}`,
        );
      }
      choices.push(verdict.droppable);
    }
    if (!mismatch && p.expect === 'accepted' && p.rejected !== undefined) {
      const target = p.rejected - expectation.certainRejected;
      if (target < 0 || !canAddUp(choices, target)) {
        fail(
          'rejected-count',
          `answered rejected_data_points = ${p.rejected}; storage is consistent with ${expectation.certainRejected} certain rejections plus ${[...choices].map((c) => `{${[...c].join(',')}}`).join(' + ') || 'none'} uncertain ones`,
        );
      }
    }
  }
  return failures;
}
