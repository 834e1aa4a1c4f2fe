// Processor benchmarks: printed tables, not timed tests. Run: npm run bench -w @tallyhouse/processor-tenant
import os from 'node:os';
import { type Attributes, context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import type { InputBatch, InputMetric } from '@tallyhouse/model';
import { Accumulator } from '../src/accumulator.ts';
import { contextWithTenant, tenantView } from '../src/index.ts';
import { ATTRIBUTION_WINDOW_NS } from '../src/series-buffer.ts';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const quick = process.argv.includes('--quick');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function gc() {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with node --expose-gc');
  // Twice: the first pass may leave objects that only become unreachable after finalization.
  collect();
  collect();
}

// ---- (a) counter.add with and without the tenant view ----

function counterFor(views: ViewOptions[]) {
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({ views, readers: [reader] });
  return { counter: provider.getMeter('bench').createCounter('requests'), provider };
}

/**
 * The floor any tenant stamping pays inside the SDK: an attributes processor that does no work but hand back
 * an already stamped object, so the SDK resolves the context and hashes one more attribute per measurement.
 */
function prestampedView(attributeSets: Record<string, string>[]): ViewOptions {
  const stamped = new Map(attributeSets.map((set) => [set, { ...set, 'tenant.id': 'acme' }]));
  return {
    instrumentName: '*',
    attributesProcessors: [
      { process: (incoming: Attributes) => stamped.get(incoming as Record<string, string>) ?? incoming },
    ],
  };
}

function timeAdds(
  counter: ReturnType<typeof counterFor>['counter'],
  attributeSets: Record<string, string>[],
  n: number,
) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) counter.add(1, attributeSets[i % attributeSets.length]);
  return Number(process.hrtime.bigint() - start) / n;
}

/** The reference point: read the baggage entry and spread it in, nothing else. */
function naiveBaggageView(): ViewOptions {
  return {
    instrumentName: '*',
    attributesProcessors: [
      {
        process: (incoming: Attributes, ctx) => ({
          ...incoming,
          'tenant.id': ctx && propagation.getBaggage(ctx)?.getEntry('tenant.id')?.value,
        }),
      },
    ],
  };
}

interface AddVariant {
  readonly label: string;
  readonly counter: ReturnType<typeof counterFor>['counter'];
  readonly attributeSets: Record<string, string>[];
}

function benchCounterAdd() {
  const attributeSets = Array.from({ length: 100 }, (_, i) => ({
    route: `/api/v1/items/${i}`,
    method: i % 2 ? 'GET' : 'POST',
  }));
  const handStamped = attributeSets.map((set) => ({ ...set, 'tenant.id': 'acme' }));
  const variants: AddVariant[] = [
    { label: 'plain SDK, no tenant', counter: counterFor([]).counter, attributeSets },
    {
      label: 'plain SDK, app passes tenant.id itself',
      counter: counterFor([]).counter,
      attributeSets: handStamped,
    },
    {
      label: 'tenantView() (withTenant context)',
      counter: counterFor([tenantView()]).counter,
      attributeSets,
    },
    {
      label: 'tenantView() (baggage source)',
      counter: counterFor([tenantView({ sources: [{ kind: 'baggage', key: 'tenant.id' }] })]).counter,
      attributeSets,
    },
    {
      label: 'naive baggage lookup + spread',
      counter: counterFor([naiveBaggageView()]).counter,
      attributeSets,
    },
    {
      label: 'SDK floor: processor returns pre-stamped object',
      counter: counterFor([prestampedView(attributeSets)]).counter,
      attributeSets,
    },
  ];
  const n = quick ? 200_000 : 1_000_000;
  const runs = variants.map(() => [] as number[]);
  const baggage = propagation.createBaggage({ 'tenant.id': { value: 'acme' } });
  const active = propagation.setBaggage(contextWithTenant(context.active(), 'acme'), baggage);
  context.with(active, () => {
    for (const variant of variants) timeAdds(variant.counter, variant.attributeSets, n);
    // Interleaved rounds: drift on a shared VM hits every variant alike.
    for (let round = 0; round < (quick ? 3 : 7); round++) {
      variants.forEach((variant, i) => {
        runs[i]!.push(timeAdds(variant.counter, variant.attributeSets, n));
      });
    }
  });
  return variants.map((variant, i) => ({ label: variant.label, ns: median(runs[i]!) }));
}

// ---- (b) merge throughput: 10 tenants x 10k series ----

const TENANTS = 10;
const SERIES_PER_TENANT = 10_000;
const T0 = 1_700_000_000_000_000_000n;

/** Attribute sets of one point; `tenant.id` is the tenant attribute, not part of the series' attributes. */
type AttributeShape = (tenant: number, series: number) => Record<string, string>;

/** The merge benchmark's shape: a low-cardinality route, then a user id unique within the tenant. */
const ROUTE_THEN_USER: AttributeShape = (t, s) => ({
  'tenant.id': `tenant-${t}`,
  route: `/api/v1/items/${s % 100}`,
  user: `user-${s}`,
});

/** A wider shape whose first attribute (in sorted order) is the unique one: no path shared below it. */
const UNIQUE_FIRST_OF_FOUR: AttributeShape = (t, s) => ({
  'tenant.id': `tenant-${t}`,
  account: `account-${s}`,
  method: s % 2 ? 'GET' : 'POST',
  region: `region-${s % 3}`,
  route: `/api/v1/items/${s % 100}`,
});

/** Ids inside attribute names: every series a shape of its own, past the table's tracked shapes. */
const NAME_PER_SERIES: AttributeShape = (t, s) => ({
  'tenant.id': `tenant-${t}`,
  [`feature.${s}`]: 'on',
  route: `/api/v1/items/${s % 100}`,
});

function inputFor(round: number, shape: AttributeShape = ROUTE_THEN_USER): InputBatch {
  const points = [];
  for (let t = 0; t < TENANTS; t++) {
    for (let s = 0; s < SERIES_PER_TENANT; s++) {
      points.push({
        attributes: shape(t, s),
        startTimeUnixNano: T0 + BigInt(round) * 1_000_000_000n,
        timeUnixNano: T0 + BigInt(round + 1) * 1_000_000_000n,
        value: { value: 1 },
      });
    }
  }
  const metric: InputMetric = {
    metric: { name: 'requests', description: '', unit: '1', kind: 'sum', monotonic: true },
    temporality: 'delta',
    points,
  };
  return {
    resourceMetrics: [
      {
        resource: { 'service.name': 'api' },
        scopeMetrics: [{ scope: { name: 'bench', version: '' }, metrics: [metric] }],
      },
    ],
  };
}

interface MergeRun {
  createPerSecond: number;
  mergePerSecond: number;
  takePerSecond: number;
}

/**
 * One accumulator through a first input and `rounds` more, as a collector sees requests: each input is
 * built (untimed) just before it is consumed and dropped after, so the heap holds one input, not all.
 */
function mergeRun(): MergeRun {
  const rounds = quick ? 3 : 10;
  const pointsPerInput = TENANTS * SERIES_PER_TENANT;
  const accumulator = new Accumulator({
    maxBufferedSeries: 1_000_000,
    maxSeriesPerTenant: SERIES_PER_TENANT,
  });
  const timed = (input: InputBatch) => {
    const start = process.hrtime.bigint();
    accumulator.consume(input);
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const createSeconds = timed(inputFor(0));
  let mergeSeconds = 0;
  for (let round = 1; round <= rounds; round++) mergeSeconds += timed(inputFor(round));
  const start = process.hrtime.bigint();
  const taken = accumulator.take();
  const takeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (taken.length !== pointsPerInput)
    throw new Error(`expected ${pointsPerInput} series, got ${taken.length}`);
  return {
    createPerSecond: pointsPerInput / createSeconds,
    mergePerSecond: (pointsPerInput * rounds) / mergeSeconds,
    takePerSecond: pointsPerInput / takeSeconds,
  };
}

/** Several runs, each with a fresh accumulator: a 2-core VM is noisy, so the table shows median and range. */
function benchMerge() {
  const runs = Array.from({ length: quick ? 2 : 5 }, mergeRun);
  const spread = (pick: (run: MergeRun) => number) => {
    const values = runs.map(pick);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  };
  return {
    create: spread((run) => run.createPerSecond),
    merge: spread((run) => run.mergePerSecond),
    take: spread((run) => run.takePerSecond),
  };
}

// ---- (d) the cost of attributing points to their quarter hour ----

const SECOND = 1_000_000_000n;
/** Baseline: one window longer than any time, so the buffer merges across quarter hours as it did before. */
const NO_WINDOWS = 1n << 64n;

interface AttributionRun {
  rows: number;
  points: number;
  pointsPerSecond: number;
}

/**
 * A simulated hour (half an hour with --quick) of a busy collector: 2,000 series (10 tenants × 200), each
 * reported by 4 instances of one service every 10 s at their own phase, merged across the instances (the default
 * identity keeps only `service.name`), flushed every 10 s. Counts the rows handed off and times `consume` +
 * `take` (building the inputs is not timed), with quarter-hour windows or the baseline's single window.
 */
function attributionRun(windowNs: bigint): AttributionRun {
  const seriesPerTenant = 200;
  const instances = 4;
  const simulatedSeconds = quick ? 1_800 : 3_600;
  const accumulator = new Accumulator({ maxBufferedSeries: 1_000_000 }, windowNs);
  // Every quarter-hour boundary falls inside a flush interval, between two instances' exports (the costly case).
  const start = T0 - (T0 % (900n * SECOND)) + 124n * SECOND;
  let rows = 0;
  let points = 0;
  let busyNs = 0n;
  for (let second = 0; second < simulatedSeconds; second++) {
    for (let instance = 0; instance < instances; instance++) {
      // Instance i exports at seconds ≡ 2i + 1 (mod 10): four phases within each flush interval.
      if (second % 10 !== 2 * instance + 1) continue;
      const time = start + BigInt(second) * SECOND;
      const input = exportOf(instance, seriesPerTenant, time - 10n * SECOND, time);
      const began = process.hrtime.bigint();
      accumulator.consume(input);
      busyNs += process.hrtime.bigint() - began;
      points += TENANTS * seriesPerTenant;
    }
    if (second % 10 === 9) {
      const began = process.hrtime.bigint();
      const taken = accumulator.take();
      accumulator.settle(taken.length, []);
      busyNs += process.hrtime.bigint() - began;
      rows += taken.length;
    }
  }
  return { rows, points, pointsPerSecond: points / (Number(busyNs) / 1e9) };
}

function exportOf(instance: number, seriesPerTenant: number, startNs: bigint, timeNs: bigint): InputBatch {
  const points = [];
  for (let t = 0; t < TENANTS; t++) {
    for (let s = 0; s < seriesPerTenant; s++) {
      points.push({
        attributes: ROUTE_THEN_USER(t, s),
        startTimeUnixNano: startNs,
        timeUnixNano: timeNs,
        value: { value: 1 },
      });
    }
  }
  return {
    resourceMetrics: [
      {
        resource: { 'service.name': 'api', 'service.instance.id': `api-${instance}` },
        scopeMetrics: [
          {
            scope: { name: 'bench', version: '' },
            metrics: [
              {
                metric: { name: 'requests', description: '', unit: '1', kind: 'sum', monotonic: true },
                temporality: 'delta',
                points,
              },
            ],
          },
        ],
      },
    ],
  };
}

/** Baseline and quarter-hour windows in turns (ABBA…), each with a fresh accumulator; medians of the rates. */
function benchAttribution() {
  const runs = { baseline: [] as AttributionRun[], windows: [] as AttributionRun[] };
  // One of each first, not counted: the first run of all pays for the JIT.
  attributionRun(NO_WINDOWS);
  attributionRun(ATTRIBUTION_WINDOW_NS);
  for (let i = 0; i < (quick ? 2 : 4); i++) {
    const order = i % 2 === 0 ? (['baseline', 'windows'] as const) : (['windows', 'baseline'] as const);
    for (const variant of order)
      runs[variant].push(attributionRun(variant === 'baseline' ? NO_WINDOWS : ATTRIBUTION_WINDOW_NS));
  }
  const summary = (list: AttributionRun[]) => ({
    rows: list[0]!.rows,
    points: list[0]!.points,
    pointsPerSecond: median(list.map((run) => run.pointsPerSecond)),
  });
  return { baseline: summary(runs.baseline), windows: summary(runs.windows) };
}

// ---- (c) memory per buffered series ----

function fillAccumulator(shape: AttributeShape): Accumulator {
  const accumulator = new Accumulator({
    maxBufferedSeries: 1_000_000,
    maxSeriesPerTenant: SERIES_PER_TENANT,
  });
  accumulator.consume(inputFor(0, shape));
  return accumulator;
}

function benchMemory(shape: AttributeShape) {
  const series = TENANTS * SERIES_PER_TENANT;
  gc();
  const before = process.memoryUsage().heapUsed;
  // Filled in its own frame: a temporary left on this frame's stack would keep the input alive through gc().
  const accumulator = fillAccumulator(shape);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (accumulator.count() !== series) throw new Error('unexpected series count');
  return (after - before) / series;
}

// Memory first: a heap that other benchmarks have grown and fragmented reads less exactly.
const bytesPerSeries = benchMemory(ROUTE_THEN_USER);
const bytesPerWideSeries = benchMemory(UNIQUE_FIRST_OF_FOUR);
const bytesPerOddlyNamedSeries = benchMemory(NAME_PER_SERIES);
const add = benchCounterAdd();
const merge = benchMerge();
const attribution = benchAttribution();

const [plainNs, handStampedNs, viewNs] = add.map(({ ns }) => ns) as [number, number, number];
const perSecond = (spread: { median: number; min: number; max: number }, unit: string) =>
  `${(spread.median / 1e6).toFixed(2)}M ${unit}/s (${(spread.min / 1e6).toFixed(2)}–${(spread.max / 1e6).toFixed(2)})`;

console.log(
  `processor-tenant benchmarks — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model}`,
);
console.table([
  ...add.map(({ label, ns }) => ({
    benchmark: `(a) counter.add, ${label}`,
    result: `${ns.toFixed(0)} ns/op (${(ns / plainNs).toFixed(2)}×)`,
    goal: '',
  })),
  {
    benchmark: '(a) ratio tenantView() / plain SDK',
    result: `${(viewNs / plainNs).toFixed(2)}×`,
    goal: '≤ 1.15×',
  },
  {
    benchmark: '(a) ratio tenantView() / app passing tenant.id',
    result: `${(viewNs / handStampedNs).toFixed(2)}×`,
    goal: '',
  },
  {
    benchmark: '(b) merge into existing series (10 tenants × 10k)',
    result: perSecond(merge.merge, 'points'),
    goal: '≥ 2M/s',
  },
  {
    benchmark: '(b) first sight: create series',
    result: perSecond(merge.create, 'points'),
    goal: '',
  },
  {
    benchmark: '(b) take() for hand-off',
    result: perSecond(merge.take, 'series'),
    goal: '',
  },
  {
    benchmark: '(c) memory per buffered series',
    result: `${bytesPerSeries.toFixed(0)} bytes`,
    goal: '≤ 300 bytes',
  },
  {
    benchmark: '(c) same, 4 attributes, unique one first',
    result: `${bytesPerWideSeries.toFixed(0)} bytes`,
    goal: '',
  },
  {
    benchmark: '(c) same, an attribute name per series',
    result: `${bytesPerOddlyNamedSeries.toFixed(0)} bytes`,
    goal: '',
  },
  {
    benchmark: '(d) rows: merged across quarter hours / by quarter hour',
    result: `${attribution.baseline.rows} / ${attribution.windows.rows} (+${(
      (attribution.windows.rows / attribution.baseline.rows - 1) * 100
    ).toFixed(2)}%; ${attribution.windows.points} points)`,
    goal: '≤ +2%',
  },
  {
    benchmark: '(d) consume + take: merged across quarter hours / by quarter hour',
    result: `${(attribution.baseline.pointsPerSecond / 1e6).toFixed(2)}M / ${(
      attribution.windows.pointsPerSecond / 1e6
    ).toFixed(
      2,
    )}M points/s (${(attribution.windows.pointsPerSecond / attribution.baseline.pointsPerSecond).toFixed(2)}×)`,
    goal: 'no loss beyond noise',
  },
]);
