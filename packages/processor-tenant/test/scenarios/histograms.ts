import {
  batch,
  CHECKOUT,
  EXPO_LATENCY,
  expoHistogram,
  histogram,
  inputMetric,
  LATENCY,
  point,
  seriesPoint,
} from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const ACME = { 'tenant.id': 'acme', route: '/a' };
const ROUTE_A = { route: '/a' };
const BOUNDS = [10, 100];

export const histogramScenarios: Scenario[] = [
  {
    name: 'histograms_with_equal_bounds_add_bucketwise',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'delta', [
            point<'histogram'>(ACME, 0n, 10n, histogram(BOUNDS, [1, 2, 0], 60, 5, 50)),
          ]),
        ]),
      },
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'delta', [
            point<'histogram'>(ACME, 10n, 20n, histogram(BOUNDS, [0, 1, 1], 250, 20, 200)),
          ]),
        ]),
      },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: LATENCY,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: { count: 5, sum: 310, bounds: BOUNDS, bucketCounts: [1, 3, 1], min: 5, max: 200 },
      }),
    ],
  },
  {
    name: 'histograms_with_different_bounds_stay_separate',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'delta', [
            point<'histogram'>(ACME, 0n, 10n, histogram(BOUNDS, [1, 2, 0], 60, 5, 50)),
            point<'histogram'>(ACME, 0n, 10n, histogram([5, 50], [1, 0, 1], 70, 1, 69)),
          ]),
        ]),
      },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: LATENCY,
        attributes: ROUTE_A,
        start: 0n,
        time: 10n,
        value: histogram(BOUNDS, [1, 2, 0], 60, 5, 50),
      }),
      seriesPoint({
        tenant: 'acme',
        metric: LATENCY,
        attributes: ROUTE_A,
        start: 0n,
        time: 10n,
        value: histogram([5, 50], [1, 0, 1], 70, 1, 69),
      }),
    ],
  },
  {
    name: 'cumulative_histogram_becomes_delta',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'cumulative', [
            point<'histogram'>(ACME, 0n, 10n, histogram(BOUNDS, [1, 2, 0], 60, 5, 50)),
          ]),
        ]),
      },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: LATENCY,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: histogram(BOUNDS, [1, 2, 0], 60, 5, 50),
          }),
        ],
      },
      { settle: 'took-all' },
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'cumulative', [
            point<'histogram'>(ACME, 0n, 20n, histogram(BOUNDS, [2, 4, 1], 300, 5, 200)),
          ]),
        ]),
      },
    ],
    // Min and max of an interval cannot be derived from running min/max: the delta carries none.
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: LATENCY,
        attributes: ROUTE_A,
        start: 10n,
        time: 20n,
        value: {
          count: 4,
          sum: 240,
          bounds: BOUNDS,
          bucketCounts: [1, 2, 1],
          min: undefined,
          max: undefined,
        },
      }),
    ],
  },
  {
    name: 'cumulative_histogram_reset_by_bucket_decrease',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'cumulative', [
            point<'histogram'>(ACME, 0n, 10n, histogram(BOUNDS, [1, 2, 0], 60, 5, 50)),
          ]),
        ]),
      },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: LATENCY,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: histogram(BOUNDS, [1, 2, 0], 60, 5, 50),
          }),
        ],
      },
      { settle: 'took-all' },
      {
        // Total count grew (3 → 4) but bucket 1 fell (2 → 1): a reset, counted in full.
        consume: batch(CHECKOUT, [
          inputMetric(LATENCY, 'cumulative', [
            point<'histogram'>(ACME, 0n, 20n, histogram(BOUNDS, [0, 1, 3], 400, 50, 150)),
          ]),
        ]),
      },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: LATENCY,
        attributes: ROUTE_A,
        start: 10n,
        time: 20n,
        value: histogram(BOUNDS, [0, 1, 3], 400, 50, 150),
      }),
    ],
    stats: { cumulativeResets: 1 },
  },
  {
    name: 'exponential_histograms_merge_at_lower_scale',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(EXPO_LATENCY, 'delta', [
            point<'exponentialHistogram'>(
              ACME,
              0n,
              10n,
              expoHistogram(
                1,
                { offset: 0, bucketCounts: [1, 1, 1, 1] },
                { negative: { offset: -3, bucketCounts: [1] }, zeroCount: 1, sum: 10, min: -1, max: 4 },
              ),
            ),
          ]),
        ]),
      },
      {
        consume: batch(CHECKOUT, [
          inputMetric(EXPO_LATENCY, 'delta', [
            point<'exponentialHistogram'>(
              ACME,
              10n,
              20n,
              expoHistogram(0, { offset: 1, bucketCounts: [2] }, { sum: 6, min: 2, max: 3 }),
            ),
          ]),
        ]),
      },
    ],
    // Scale 1 → 0 halves the index (floor): positive 0,1,2,3 → 0,0,1,1; negative -3 → -2.
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: EXPO_LATENCY,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: {
          count: 8,
          sum: 16,
          scale: 0,
          zeroCount: 1,
          positive: { offset: 0, bucketCounts: [2, 4] },
          negative: { offset: -2, bucketCounts: [1] },
          min: -1,
          max: 4,
        },
      }),
    ],
  },
  {
    name: 'exponential_histogram_downscales_to_fit_bucket_limit',
    options: { maxExponentialBuckets: 4 },
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(EXPO_LATENCY, 'delta', [
            point<'exponentialHistogram'>(
              ACME,
              0n,
              10n,
              expoHistogram(2, { offset: 0, bucketCounts: [1, 1] }),
            ),
            point<'exponentialHistogram'>(
              ACME,
              10n,
              20n,
              expoHistogram(2, { offset: 6, bucketCounts: [1, 1] }),
            ),
          ]),
        ]),
      },
    ],
    // Indices 0..7 need 8 buckets at scale 2; at scale 1 they are 0..3, which fits 4.
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: EXPO_LATENCY,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: {
          count: 4,
          sum: 0,
          scale: 1,
          zeroCount: 0,
          positive: { offset: 0, bucketCounts: [2, 0, 0, 2] },
          negative: { offset: 0, bucketCounts: [] },
          min: undefined,
          max: undefined,
        },
      }),
    ],
  },
];
