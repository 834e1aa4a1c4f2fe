import type { SummaryValue } from '@tallyhouse/model';
import { batch, CHECKOUT, inputMetric, metricInfo, point, seriesPoint } from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

/** An OTLP summary: only OTLP input carries them (the JS SDK has no summary instrument). */
const RPC_DURATION = metricInfo('summary', 'rpc.duration', { unit: 's', monotonic: false });
const ACME = { 'tenant.id': 'acme', method: 'Get' };
const METHOD = { method: 'Get' };

const summary = (count: number, sum: number, median: number, max: number): SummaryValue => ({
  count,
  sum,
  quantileValues: [
    { quantile: 0.5, value: median },
    { quantile: 1, value: max },
  ],
});
const host = (name: string) => ({ ...CHECKOUT, 'host.name': name });
const summaries = (
  resource: Record<string, string>,
  temporality: 'delta' | 'cumulative',
  ...points: { time: bigint; value: SummaryValue }[]
) =>
  batch(resource, [
    inputMetric(
      RPC_DURATION,
      temporality,
      points.map(({ time, value }) => point<'summary'>(ACME, 0n, time, value)),
    ),
  ]);
const row = (resource: Record<string, string>, time: bigint, value: SummaryValue) =>
  seriesPoint({ tenant: 'acme', metric: RPC_DURATION, attributes: METHOD, resource, start: 0n, time, value });

export const summaryScenarios: Scenario[] = [
  {
    name: 'summaries_are_never_added_the_latest_point_of_a_stream_wins',
    steps: [
      { consume: summaries(host('a'), 'cumulative', { time: 10n, value: summary(4, 10, 2, 5) }) },
      { consume: summaries(host('a'), 'cumulative', { time: 20n, value: summary(6, 16, 2.5, 7) }) },
    ],
    // Stored as sent: not the sum of both (10 points, 26) and not converted to a delta (2 points, 6).
    output: [row(host('a'), 20n, summary(6, 16, 2.5, 7))],
    stats: { trackedStreams: 0 },
  },
  {
    name: 'an_older_summary_does_not_replace_a_newer_one_and_equal_times_keep_the_later_arrival',
    steps: [
      {
        consume: summaries(
          host('a'),
          'cumulative',
          { time: 20n, value: summary(6, 16, 2.5, 7) },
          { time: 10n, value: summary(4, 10, 2, 5) },
        ),
      },
      { consume: summaries(host('a'), 'cumulative', { time: 20n, value: summary(6, 17, 2.5, 8) }) },
    ],
    output: [row(host('a'), 20n, summary(6, 17, 2.5, 8))],
  },
  {
    name: 'the_same_summary_from_two_hosts_keeps_both_sources',
    steps: [
      { consume: summaries(host('a'), 'cumulative', { time: 10n, value: summary(4, 10, 2, 5) }) },
      { consume: summaries(host('b'), 'cumulative', { time: 10n, value: summary(1, 9, 9, 9) }) },
    ],
    output: [row(host('a'), 10n, summary(4, 10, 2, 5)), row(host('b'), 10n, summary(1, 9, 9, 9))],
  },
  {
    name: 'a_summary_the_next_stage_failed_to_take_loses_to_a_newer_one_of_its_stream',
    steps: [
      { consume: summaries(host('a'), 'cumulative', { time: 10n, value: summary(4, 10, 2, 5) }) },
      { take: [row(host('a'), 10n, summary(4, 10, 2, 5))] },
      { consume: summaries(host('a'), 'cumulative', { time: 20n, value: summary(6, 16, 2.5, 7) }) },
      { settle: 'failed-all' },
    ],
    output: [row(host('a'), 20n, summary(6, 16, 2.5, 7))],
  },
  {
    name: 'a_summary_with_a_nan_sum_is_kept_and_one_with_a_quantile_above_one_is_rejected',
    steps: [
      {
        consume: summaries(
          host('a'),
          'delta',
          { time: 10n, value: { count: 0, sum: Number.NaN, quantileValues: [] } },
          { time: 20n, value: { count: 1, sum: 1, quantileValues: [{ quantile: 1.5, value: 1 }] } },
        ),
        report: { acceptedPoints: 1, rejectedPoints: 1 },
      },
    ],
    output: [row(host('a'), 10n, { count: 0, sum: Number.NaN, quantileValues: [] })],
    stats: { rejectedPoints: { invalid_value: 1 } },
  },
];
