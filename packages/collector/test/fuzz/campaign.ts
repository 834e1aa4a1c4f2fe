/**
 * The long fuzz campaign against the real collector (`npm run fuzz` at the repo root or in this package):
 *
 *   npm run fuzz -- --seed 42 --cases 5000          # or FUZZ_SEED=42 FUZZ_CASES=5000 npm run fuzz
 *   npm run fuzz -- --seed 42 --case 1234           # one case again (shrunk if it fails)
 *   npm run fuzz -- --avoid known                   # look past the bugs the issue lists
 *
 * Options: --seed N, --cases N, --first N, --case I[,J…], --kinds valid-protobuf,…, --avoid known|metric-data-split,
 * shapes,time-2^63,offset-int32-min,split,leading-bom,lone-surrogate,json-bom (leave out inputs of bugs already reported),
 * --batch N (concurrent requests, default 8), --restart-every N (SIGKILL + restart after every N cases; default
 * once, half way), --timeout MS (per request, default 15000), --heap MIB (collector
 * heap, default 1024), --no-shrink, --out DIR (failing bodies and shrunk cases; default a temp dir), --keep (keep the
 * collector data directories, whose paths are printed), --env NAME=VALUE (collector settings, repeatable, e.g.
 * TALLYHOUSE_WAL_SEGMENT_BYTES=1048576 to cross log segments often).
 * Exit code 1 when anything failed.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killStrayProcesses } from '../support/node-process.ts';
import { AVOIDABLE, type Avoidable, CASE_KINDS, type CaseKind, KNOWN } from './cases.ts';
import { formatReport } from './report.ts';
import { runCampaign } from './runner.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    cases: { type: 'string' },
    first: { type: 'string' },
    case: { type: 'string', multiple: true },
    kinds: { type: 'string' },
    avoid: { type: 'string' },
    batch: { type: 'string' },
    'restart-every': { type: 'string' },
    timeout: { type: 'string' },
    heap: { type: 'string' },
    'no-shrink': { type: 'boolean' },
    keep: { type: 'boolean' },
    env: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
});

function integer(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name}: expected a non-negative integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

function list<T extends string>(
  name: string,
  text: string | undefined,
  allowed: readonly T[],
): T[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').filter((s) => s !== '');
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      console.error(`--${name}: expected some of ${allowed.join(', ')}, got ${JSON.stringify(item)}`);
      process.exit(2);
    }
  }
  return items as T[];
}

const seed = integer('seed', values.seed ?? process.env.FUZZ_SEED, Math.floor(Math.random() * 2 ** 31));
const only = values.case?.flatMap((c) => c.split(',')).map((c) => integer('case', c, 0));
const cases = integer('cases', values.cases ?? process.env.FUZZ_CASES, 2000);
const kinds = list<CaseKind>('kinds', values.kinds, CASE_KINDS);
const avoidText = (values.avoid ?? process.env.FUZZ_AVOID)?.replace('known', KNOWN.join(','));
const avoid = new Set(list<Avoidable>('avoid', avoidText, AVOIDABLE) ?? []);
// Created only when something fails.
const outDir = values.out ?? join(tmpdir(), `tallyhouse-fuzz-${seed}-${Date.now().toString(36)}`);

process.on('SIGINT', () => {
  killStrayProcesses();
  process.exit(130);
});

console.log(
  `seed ${seed}${only === undefined ? `, ${cases} cases` : `, case(s) ${only.join(', ')}`}; failing bodies go to ${outDir}`,
);
const report = await runCampaign({
  seed,
  cases,
  first: integer('first', values.first, 0),
  ...(only === undefined ? {} : { only }),
  ...(kinds === undefined ? {} : { kinds }),
  avoid,
  batchSize: integer('batch', values.batch, 8),
  ...(values['restart-every'] === undefined
    ? {}
    : { restartEvery: integer('restart-every', values['restart-every'], 0) }),
  shrink: values['no-shrink'] !== true,
  session: {
    requestTimeoutMs: integer('timeout', values.timeout, 15_000),
    heapMiB: integer('heap', values.heap, 1024),
    keepDataDir: values.keep === true,
    env: Object.fromEntries(
      (values.env ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) {
          console.error(`--env: expected NAME=VALUE, got ${JSON.stringify(pair)}`);
          process.exit(2);
        }
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    ),
  },
  outDir,
  log: (line) => console.log(line),
});
const reportOptions = { avoid, ...(kinds === undefined ? {} : { kinds }) };
console.log(formatReport(report, reportOptions, only === undefined ? 40 : 1000));
if (report.failures.length > 0) {
  writeFileSync(join(outDir, 'report.txt'), formatReport(report, reportOptions, 100_000));
  console.log(`full report: ${join(outDir, 'report.txt')}`);
}
killStrayProcesses();
process.exitCode = report.failures.length === 0 ? 0 : 1;
