import {
  batch,
  CHECKOUT,
  inputMetric,
  QUEUE_DEPTH,
  REQUESTS,
  SCOPE,
  seriesPoint,
  sumPoint,
} from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const ACME = { 'tenant.id': 'acme', route: '/a' };
const GLOBEX = { 'tenant.id': 'globex', route: '/a' };
const ROUTE_A = { route: '/a' };

const deltaRequests = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'delta', points)]);
const cumulativeRequests = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'cumulative', points)]);

export const sumScenarios: Scenario[] = [
  {
    name: 'delta_sums_are_added',
    steps: [
      { consume: deltaRequests(sumPoint(ACME, 0n, 10n, 3), sumPoint(GLOBEX, 0n, 10n, 5)) },
      { consume: deltaRequests(sumPoint(ACME, 10n, 20n, 4)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: { value: 7 },
      }),
      seriesPoint({
        tenant: 'globex',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 10n,
        value: { value: 5 },
      }),
    ],
  },
  {
    name: 'cumulative_sums_become_deltas',
    steps: [
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 10n, 5)) },
      {
        // The first point of a stream counts in full: it covers everything since its start time.
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: REQUESTS,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: { value: 5 },
          }),
        ],
      },
      { settle: 'took-all' },
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 20n, 8)) },
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 30n, 12)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 10n,
        time: 30n,
        value: { value: 7 },
      }),
    ],
    stats: { cumulativeResets: 0, trackedStreams: 1 },
  },
  {
    name: 'counter_reset_by_start_time_change',
    steps: [
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 10n, 5)) },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: REQUESTS,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: { value: 5 },
          }),
        ],
      },
      { settle: 'took-all' },
      // The process restarted at 15: its new running total counts in full, then deltas again.
      { consume: cumulativeRequests(sumPoint(ACME, 15n, 20n, 2)) },
      { consume: cumulativeRequests(sumPoint(ACME, 15n, 30n, 6)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 15n,
        time: 30n,
        value: { value: 6 },
      }),
    ],
    stats: { cumulativeResets: 1 },
  },
  {
    name: 'counter_reset_by_decrease',
    steps: [
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 10n, 5)) },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: REQUESTS,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: { value: 5 },
          }),
        ],
      },
      { settle: 'took-all' },
      // Same start time, lower value: a monotonic counter went back, so 2 is what was counted since the reset.
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 20n, 2)) },
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 30n, 6)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 10n,
        time: 30n,
        value: { value: 6 },
      }),
    ],
    stats: { cumulativeResets: 1 },
  },
  {
    name: 'non_monotonic_cumulative_sum_decrease_is_not_a_reset',
    steps: [
      { consume: batch(CHECKOUT, [inputMetric(QUEUE_DEPTH, 'cumulative', [sumPoint(ACME, 0n, 10n, 5)])]) },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: QUEUE_DEPTH,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: { value: 5 },
          }),
        ],
      },
      { settle: 'took-all' },
      { consume: batch(CHECKOUT, [inputMetric(QUEUE_DEPTH, 'cumulative', [sumPoint(ACME, 0n, 20n, 2)])]) },
      { consume: batch(CHECKOUT, [inputMetric(QUEUE_DEPTH, 'cumulative', [sumPoint(ACME, 0n, 30n, 6)])]) },
    ],
    // -3 then +4.
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: QUEUE_DEPTH,
        attributes: ROUTE_A,
        start: 10n,
        time: 30n,
        value: { value: 1 },
      }),
    ],
    stats: { cumulativeResets: 0 },
  },
  {
    name: 'out_of_order_cumulative_point_is_ignored',
    steps: [
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 10n, 5), sumPoint(ACME, 0n, 30n, 9)) },
      // Older than the stream's last point (30), and an exact duplicate of it: both counted zero times.
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 20n, 7)) },
      { consume: cumulativeRequests(sumPoint(ACME, 0n, 30n, 9)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 30n,
        value: { value: 9 },
      }),
    ],
    stats: { staleCumulativePoints: 2, cumulativeResets: 0 },
  },
  {
    name: 'two_instances_cumulative_streams_are_separate_sources',
    steps: [
      {
        consume: {
          resourceMetrics: [
            instance('a', [sumPoint(ACME, 0n, 10n, 5)]),
            instance('b', [sumPoint(ACME, 0n, 10n, 100)]),
          ],
        },
      },
      {
        consume: {
          resourceMetrics: [
            instance('a', [sumPoint(ACME, 0n, 20n, 8)]),
            instance('b', [sumPoint(ACME, 0n, 20n, 101)]),
          ],
        },
      },
    ],
    // One series (the instance id is not kept), fed by two running totals: 8 + 101.
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: { value: 109 },
      }),
    ],
    stats: { trackedStreams: 2, staleCumulativePoints: 0, cumulativeResets: 0 },
  },
  {
    name: 'two_scopes_cumulative_streams_are_separate_sources',
    steps: [
      {
        consume: {
          resourceMetrics: [
            {
              resource: CHECKOUT,
              scopeMetrics: [
                {
                  scope: SCOPE,
                  metrics: [inputMetric(REQUESTS, 'cumulative', [sumPoint(ACME, 0n, 10n, 5)])],
                },
                {
                  scope: { name: 'http-lib', version: '2' },
                  metrics: [inputMetric(REQUESTS, 'cumulative', [sumPoint(ACME, 0n, 10n, 7)])],
                },
              ],
            },
          ],
        },
      },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        scope: { name: 'http-lib', version: '2' },
        start: 0n,
        time: 10n,
        value: { value: 12 },
      }),
    ],
    stats: { trackedStreams: 2, staleCumulativePoints: 0 },
  },
  {
    name: 'failed_handoff_is_merged_back_with_newer_deltas',
    steps: [
      { consume: deltaRequests(sumPoint(ACME, 0n, 10n, 3)) },
      {
        take: [
          seriesPoint({
            tenant: 'acme',
            metric: REQUESTS,
            attributes: ROUTE_A,
            start: 0n,
            time: 10n,
            value: { value: 3 },
          }),
        ],
      },
      { consume: deltaRequests(sumPoint(ACME, 10n, 20n, 4)) },
      { settle: 'failed-all' },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 20n,
        value: { value: 7 },
      }),
    ],
    stats: { restoredPoints: 1, inFlightSeries: 1 },
  },
  {
    name: 'delta_sums_that_would_overflow_are_kept_apart',
    steps: [
      // 1e308 + 1e308 is Infinity, which storage refuses: the second stays a row of its own in the series.
      { consume: deltaRequests(sumPoint(ACME, 0n, 10n, 1e308)) },
      { consume: deltaRequests(sumPoint(ACME, 10n, 20n, 1e308)) },
      { consume: deltaRequests(sumPoint(ACME, 20n, 30n, -1)) },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 0n,
        time: 30n,
        value: { value: 1e308 - 1 },
      }),
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROUTE_A,
        start: 10n,
        time: 20n,
        value: { value: 1e308 },
      }),
    ],
    stats: { keptApartPoints: 1, bufferedSeries: 0 },
  },
];

function instance(id: string, points: ReturnType<typeof sumPoint>[]) {
  return {
    resource: { ...CHECKOUT, 'service.instance.id': id },
    scopeMetrics: [{ scope: SCOPE, metrics: [inputMetric(REQUESTS, 'cumulative', points)] }],
  };
}
