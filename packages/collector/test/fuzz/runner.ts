/**
 * A fuzz campaign against the real collector: cases in small concurrent batches, `/healthz` after each batch,
 * a SIGKILL + restart half way, and at the end SIGKILL → restart (write-ahead-log replay) → SIGTERM → read
 * storage → compare every tenant with what it was told; then one more start/stop must change nothing.
 * A crash is pinned to one case by replaying its batch case by case; model-based failures are shrunk.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Avoidable,
  type CaseKind,
  type CaseOptions,
  type FuzzCase,
  MAX_BODY_BYTES,
  makeCase,
} from './cases.ts';
import type { Request } from './model.ts';
import {
  type CaseResult,
  decoderDisagreement,
  type Failure,
  type FailureCategory,
  judgeCase,
  type Pending,
  totalsText,
  verifyStorage,
} from './oracle.ts';
import { referenceOutcome } from './reference.ts';
import { CollectorSession, DEFAULT_SESSION_OPTIONS, type SessionOptions } from './session.ts';

export interface CampaignOptions {
  readonly seed: number;
  readonly cases: number;
  /** First case index (default 0). */
  readonly first?: number;
  /** Run only these case indices. */
  readonly only?: readonly number[];
  readonly kinds?: readonly CaseKind[];
  /** Leave out inputs of bugs already reported, to look past them. */
  readonly avoid?: ReadonlySet<Avoidable>;
  readonly batchSize?: number;
  /** SIGKILL + restart after this many cases (default: half the campaign). */
  readonly restartEvery?: number;
  readonly shrink?: boolean;
  readonly session?: Partial<SessionOptions>;
  /** Where failing bodies and shrunk cases are written (default: nowhere). */
  readonly outDir?: string;
  readonly log?: (line: string) => void;
}

export interface CaseRecord {
  readonly index: number;
  readonly kind: CaseKind;
  readonly status: number | 'timeout' | 'error';
  readonly rejected: number | undefined;
  readonly accepted: number;
}

export interface CampaignReport {
  readonly seed: number;
  readonly cases: number;
  readonly ms: number;
  readonly records: readonly CaseRecord[];
  readonly failures: readonly Failure[];
  /** Tenants whose storage could not be checked (their session could not be restarted). */
  readonly unverified: number;
  readonly sessions: number;
  readonly shrunk: ReadonlyMap<number, string>;
}

/** The command that runs case `index` (or the campaign) again; `--avoid`/`--kinds` change the cases, so they go along. */
export function reproduceCommand(
  seed: number,
  index?: number,
  options: Pick<CampaignOptions, 'avoid' | 'kinds'> = {},
): string {
  const avoid =
    options.avoid !== undefined && options.avoid.size > 0 ? ` --avoid ${[...options.avoid].join(',')}` : '';
  const kinds = options.kinds !== undefined ? ` --kinds ${options.kinds.join(',')}` : '';
  return `npm run fuzz -- --seed ${seed}${index === undefined ? '' : ` --case ${index}`}${avoid}${kinds}`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function runBatch(
  session: CollectorSession,
  cases: readonly FuzzCase[],
  sequential: boolean,
): Promise<CaseResult[]> {
  if (sequential) {
    const out: CaseResult[] = [];
    for (const c of cases) out.push(judgeCase(c, await session.post(c.request)));
    return out;
  }
  return Promise.all(cases.map(async (c) => judgeCase(c, await session.post(c.request))));
}

interface SessionEnd {
  readonly failures: Failure[];
  readonly unverified: number;
}

/** SIGKILL → restart (replay) → SIGTERM → read → verify; then start/stop once more and compare. */
async function finishSession(
  session: CollectorSession,
  pending: readonly Pending[],
  log: (line: string) => void,
): Promise<SessionEnd> {
  const failures: Failure[] = [];
  const first = pending[0]?.case.index;
  try {
    await session.crashAndRestart();
  } catch (error) {
    failures.push({
      index: first,
      category: 'replay',
      message: `no restart after SIGKILL: ${(error as Error).message.slice(0, 1500)}`,
    });
    await session.close();
    return { failures, unverified: pending.length };
  }
  const code = await session.stop();
  if (code !== 0) {
    failures.push({
      index: undefined,
      category: 'shutdown',
      message: `SIGTERM after replay: exit ${code}\n${session.outputTail(1500)}`,
    });
  }
  const dump = await session.readStored();
  failures.push(...verifyStorage(pending, dump));
  log(
    `  storage of ${session.dataDir}: ${dump.rows.length} rows, ${dump.deadLetters.length} dead letters, ${dump.quarantined.length} quarantined`,
  );
  // A start after a clean stop replays nothing new: totals stay as they are.
  try {
    await session.start();
    await session.stop();
    const again = totalsText(await session.readStored());
    const before = totalsText(dump);
    const changed = [...new Set([...before.keys(), ...again.keys()])].filter(
      (k) => before.get(k) !== again.get(k),
    );
    if (changed.length > 0) {
      failures.push({
        index: undefined,
        category: 'restart-changed-totals',
        message: `a start/stop after a clean shutdown changed ${changed.length} totals, e.g. ${changed[0]!.replaceAll('\u0000', ' ')}: ${before.get(changed[0]!)} → ${again.get(changed[0]!)}`,
      });
    }
  } catch (error) {
    failures.push({
      index: undefined,
      category: 'replay',
      message: `no restart after a clean stop: ${(error as Error).message.slice(0, 1500)}`,
    });
  }
  await session.close();
  return { failures, unverified: 0 };
}

/** Replays a crashed batch case by case on fresh collectors; returns the index that takes it down. */
async function isolateCrash(
  seed: number,
  indices: readonly number[],
  caseOptions: CaseOptions,
  options: SessionOptions,
) {
  const session = await CollectorSession.open(options);
  try {
    for (const index of indices) {
      const c = makeCase(seed, index, caseOptions);
      const outcome = await session.post(c.request);
      if (outcome.status === 'timeout' || !(await session.healthy()))
        return { index, status: outcome.status, output: session.outputTail(2000) };
    }
    return undefined;
  } finally {
    await session.close();
  }
}

// ---- shrinking (model-based cases) ----

function* smaller(model: Request): Generator<Request> {
  const rs = model.resources;
  for (let i = 0; i < rs.length; i++) yield { resources: rs.filter((_, j) => j !== i) };
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    const put = (resource: typeof r): Request => ({ resources: rs.map((x, j) => (j === i ? resource : x)) });
    for (let s = 0; s < r.scopes.length; s++) yield put({ ...r, scopes: r.scopes.filter((_, k) => k !== s) });
    for (let s = 0; s < r.scopes.length; s++) {
      const scope = r.scopes[s]!;
      const putScope = (next: typeof scope) =>
        put({ ...r, scopes: r.scopes.map((x, k) => (k === s ? next : x)) });
      for (let m = 0; m < scope.metrics.length; m++)
        yield putScope({ ...scope, metrics: scope.metrics.filter((_, k) => k !== m) });
      for (let m = 0; m < scope.metrics.length; m++) {
        const metric = scope.metrics[m]!;
        const data = metric.data;
        const putMetric = (next: typeof metric) =>
          putScope({ ...scope, metrics: scope.metrics.map((x, k) => (k === m ? next : x)) });
        if (data.kind === 'none') continue;
        const points = data.points as readonly { attributes: readonly unknown[] }[];
        if (points.length > 1) {
          // Halves first, then single points.
          const half = Math.ceil(points.length / 2);
          for (const keep of [points.slice(0, half), points.slice(half)]) {
            yield putMetric({ ...metric, data: { ...data, points: keep } as unknown as typeof data });
          }
          for (let p = 0; p < points.length && p < 12; p++) {
            yield putMetric({
              ...metric,
              data: { ...data, points: points.filter((_, k) => k !== p) } as unknown as typeof data,
            });
          }
        }
        for (let p = 0; p < points.length && p < 12; p++) {
          const attributes = points[p]!.attributes;
          if (attributes.length === 0) continue;
          // All of a point's attributes, then each one.
          const choices = [
            [],
            ...attributes.slice(0, 24).map((_, a) => attributes.filter((_, k) => k !== a)),
          ];
          for (const fewer of attributes.length === 1 ? [[]] : choices) {
            const next = points.map((pt, k) => (k === p ? { ...pt, attributes: fewer } : pt));
            yield putMetric({ ...metric, data: { ...data, points: next } as unknown as typeof data });
          }
        }
        if (metric.metadata.length > 0 || metric.description !== '' || metric.unit !== '')
          yield putMetric({ ...metric, metadata: [], description: '', unit: '' });
      }
      if (scope.attributes.length > 0 || scope.name !== '' || scope.version !== '' || scope.schemaUrl !== '')
        yield putScope({ ...scope, attributes: [], name: '', version: '', schemaUrl: '' });
    }
    if (r.attributes.length > 0) yield put({ ...r, attributes: [] });
    for (let a = 0; a < r.attributes.length && r.attributes.length > 1 && a < 24; a++) {
      yield put({ ...r, attributes: r.attributes.filter((_, k) => k !== a) });
    }
  }
}

function size(model: Request): number {
  return JSON.stringify(model, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).length;
}

/** Shrink candidates get indices of their own, far from any campaign's, so failures name them. */
const CANDIDATE_INDEX = 1_000_000_000;

/** A case whose request is `model`, encoded like `c`, under a tenant of its own. */
function variantOf(c: FuzzCase, model: Request, n: number): FuzzCase {
  const tenant = `${c.tenant.slice(0, 80)}-s${n}`;
  return { ...c, index: CANDIDATE_INDEX + n, tenant, model, request: c.reencode!(model, tenant) };
}

/** Greedy shrinking: keep the first smaller request that still fails the same way, until none does. */
export async function shrinkCase(
  c: FuzzCase,
  category: FailureCategory,
  options: SessionOptions,
  log: (line: string) => void,
): Promise<FuzzCase> {
  let current = c;
  let serial = 0;
  const deadline = Date.now() + 180_000;
  for (let round = 0; round < 40 && Date.now() < deadline; round++) {
    const candidates = [...smaller(current.model!)].slice(0, 64).map((m) => variantOf(c, m, serial++));
    if (candidates.length === 0) break;
    let next: FuzzCase | undefined;
    if (category === 'decoder') {
      next = candidates.find((k) => {
        const ref = referenceOutcome(k.request, MAX_BODY_BYTES);
        return ref.status !== 200 || ('decoded' in ref && decoderDisagreement(k, ref.decoded) !== undefined);
      });
    } else {
      const session = await CollectorSession.open(options);
      const sequential = category === 'crash' || category === 'hang';
      const results: CaseResult[] = [];
      for (const k of candidates) {
        const [result] = await runBatch(session, [k], true);
        results.push(result!);
        if (sequential && !(await session.healthy())) {
          next = k;
          break;
        }
      }
      if (next === undefined) {
        const immediate = results.find((r) => r.failures.some((f) => f.category === category));
        if (immediate !== undefined) next = immediate.pending.case;
      }
      if (next === undefined && !sequential) {
        const end = await finishSession(
          session,
          results.map((r) => r.pending),
          () => {},
        );
        const failing = new Set(end.failures.filter((f) => f.category === category).map((f) => f.index));
        next = candidates.find((k) => failing.has(k.index));
      } else await session.close();
    }
    if (next === undefined) break;
    log(`  shrink round ${round + 1}: ${size(current.model!)} → ${size(next.model!)} bytes of model`);
    current = next;
  }
  return current;
}

function modelJson(model: Request): string {
  return JSON.stringify(
    model,
    (_k, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      if (v instanceof Uint8Array) return `base64:${Buffer.from(v).toString('base64')}`;
      return v;
    },
    1,
  );
}

// ---- the campaign ----

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const sessionOptions: SessionOptions = { ...DEFAULT_SESSION_OPTIONS, ...options.session };
  const first = options.first ?? 0;
  const indices = options.only ?? Array.from({ length: options.cases }, (_, i) => first + i);
  const batchSize = options.batchSize ?? 8;
  const restartEvery = options.restartEvery ?? Math.max(batchSize, Math.ceil(indices.length / 2));
  const caseOptions: CaseOptions = { kinds: options.kinds, avoid: options.avoid };
  const records: CaseRecord[] = [];
  const failures: Failure[] = [];
  const crashes: number[][] = [];
  const cases = new Map<number, FuzzCase>();
  let unverified = 0;
  let sessions = 1;
  let session = await CollectorSession.open(sessionOptions);
  let pending: Pending[] = [];
  let sinceRestart = 0;

  const replace = async (why: string) => {
    // The data directory cannot be served any more: its tenants stay unverified; go on with a fresh one.
    log(`  ${why}: continuing on a fresh data directory`);
    unverified += pending.length;
    pending = [];
    await session.close();
    session = await CollectorSession.open(sessionOptions);
    sessions++;
  };

  const batches = chunks(indices, batchSize);
  for (const [b, batch] of batches.entries()) {
    const batchCases = batch.map((i) => makeCase(options.seed, i, caseOptions));
    for (const c of batchCases) cases.set(c.index, c);
    const results = await runBatch(session, batchCases, false);
    for (const [i, r] of results.entries()) {
      const c = batchCases[i]!;
      records.push({
        index: c.index,
        kind: c.kind,
        status: r.status,
        rejected: r.rejected,
        accepted: r.accepted,
      });
      failures.push(...r.failures);
      pending.push(r.pending);
    }
    if (!(await session.healthy())) {
      failures.push({
        index: batch[0],
        category: 'crash',
        message: `collector unhealthy after cases ${batch.join(', ')} (${session.exitStatus()}):\n${session.outputTail(2000)}`,
      });
      crashes.push(batch);
      try {
        await session.crashAndRestart();
      } catch (error) {
        failures.push({
          index: batch[0],
          category: 'replay',
          message: `no restart after the crash: ${(error as Error).message.slice(0, 1500)}`,
        });
        await replace('restart failed');
      }
    }
    sinceRestart += batch.length;
    if (sinceRestart >= restartEvery && b < batches.length - 1) {
      sinceRestart = 0;
      try {
        await session.crashAndRestart();
        log(`  SIGKILL + restart after case ${batch.at(-1)}`);
      } catch (error) {
        failures.push({
          index: batch.at(-1),
          category: 'replay',
          message: `no restart after SIGKILL: ${(error as Error).message.slice(0, 1500)}`,
        });
        await replace('restart failed');
      }
    }
    if ((b + 1) % 25 === 0) log(`  ${records.length}/${indices.length} cases, ${failures.length} failures`);
  }
  const end = await finishSession(session, pending, log);
  failures.push(...end.failures);
  unverified += end.unverified;

  for (const batch of crashes.slice(0, 3)) {
    const culprit = await isolateCrash(options.seed, batch, caseOptions, sessionOptions);
    failures.push({
      index: culprit?.index,
      category: 'crash',
      message:
        culprit === undefined
          ? `cases ${batch.join(', ')} do not crash a fresh collector one by one`
          : `case ${culprit.index} alone takes a fresh collector down (${culprit.status}):\n${culprit.output}`,
    });
  }

  if (options.outDir !== undefined && failures.length > 0) mkdirSync(options.outDir, { recursive: true });
  const shrunk = new Map<number, string>();
  if (options.shrink) {
    const seen = new Set<number>();
    for (const f of failures) {
      if (f.index === undefined || seen.has(f.index) || seen.size >= 5) continue;
      const c = cases.get(f.index);
      if (c?.model === undefined || c.reencode === undefined) continue;
      seen.add(f.index);
      log(`shrinking case ${f.index} (${f.category})`);
      const small = await shrinkCase(c, f.category, sessionOptions, log);
      shrunk.set(f.index, modelJson(small.model!));
      if (options.outDir !== undefined) {
        writeFileSync(join(options.outDir, `case-${f.index}-shrunk.json`), modelJson(small.model!));
        writeFileSync(
          join(options.outDir, `case-${f.index}-shrunk.${small.encoding === 'json' ? 'json' : 'bin'}`),
          small.request.body,
        );
      }
    }
  }
  if (options.outDir !== undefined) {
    for (const index of new Set(failures.map((f) => f.index))) {
      const c = index === undefined ? undefined : cases.get(index);
      if (c === undefined) continue;
      writeFileSync(
        join(options.outDir, `case-${c.index}.${c.encoding === 'json' ? 'json' : 'bin'}`),
        c.request.body,
      );
      if (c.model !== undefined)
        writeFileSync(join(options.outDir, `case-${c.index}.model.json`), modelJson(c.model));
    }
  }
  return {
    seed: options.seed,
    cases: indices.length,
    ms: Date.now() - started,
    records,
    failures,
    unverified,
    sessions,
    shrunk,
  };
}
