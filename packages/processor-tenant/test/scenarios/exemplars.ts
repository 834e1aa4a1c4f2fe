import type { Exemplar } from '@tallyhouse/model';
import {
  batch,
  CHECKOUT,
  gaugePoint,
  inputMetric,
  REQUESTS,
  seriesPoint,
  sumPoint,
  TEMPERATURE,
} from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const ACME = { 'tenant.id': 'acme', route: '/a' };
const ROUTE_A = { route: '/a' };

/** An exemplar at `time` whose value tells which it is. */
const sample = (time: bigint, value = Number(time)): Exemplar => ({
  filteredAttributes: { user: `u${time}` },
  timeUnixNano: time,
  value,
  spanId: '00f067aa0ba902b7',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
});
const samples = (...times: number[]) => times.map((time) => sample(BigInt(time)));

const withExemplars = <P extends object>(point: P, exemplars: readonly Exemplar[]) => ({
  ...point,
  exemplars,
});
const delta = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'delta', points)]);
const cumulative = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'cumulative', points)]);
const requests = (start: bigint, time: bigint, value: number, exemplars?: readonly Exemplar[]) => {
  const row = seriesPoint({
    tenant: 'acme',
    metric: REQUESTS,
    attributes: ROUTE_A,
    start,
    time,
    value: { value },
  });
  return exemplars === undefined ? row : { ...row, exemplars };
};

export const exemplarScenarios: Scenario[] = [
  {
    name: 'merged_points_keep_the_ten_most_recent_exemplars_oldest_first',
    steps: [
      { consume: delta(withExemplars(sumPoint(ACME, 0n, 10n, 1), samples(1, 2, 9, 10))) },
      { consume: delta(withExemplars(sumPoint(ACME, 10n, 20n, 2), samples(11, 12, 19, 20))) },
      // Arrives last but sampled earliest: time decides, not arrival.
      { consume: delta(withExemplars(sumPoint(ACME, 20n, 30n, 4), samples(3, 4, 5, 30))) },
    ],
    // Twelve sampled, ten kept: the two oldest (times 1 and 2) go.
    output: [requests(0n, 30n, 7, samples(3, 4, 5, 9, 10, 11, 12, 19, 20, 30))],
  },
  {
    name: 'a_cumulative_points_exemplars_ride_its_delta_and_a_stale_points_are_dropped',
    steps: [
      { consume: cumulative(withExemplars(sumPoint(ACME, 0n, 10n, 5), samples(10))) },
      { consume: cumulative(withExemplars(sumPoint(ACME, 0n, 20n, 8), samples(20))) },
      // Not newer than the stream's last point: counted zero times, and its exemplars with it.
      { consume: cumulative(withExemplars(sumPoint(ACME, 0n, 20n, 8), samples(21))) },
    ],
    output: [requests(0n, 20n, 8, samples(10, 20))],
  },
  {
    name: 'gauge_exemplars_of_every_reading_in_the_window_are_kept',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(TEMPERATURE, 'cumulative', [
            withExemplars(gaugePoint({ 'tenant.id': 'acme', room: 'hall' }, 20n, 21), samples(20)),
            withExemplars(gaugePoint({ 'tenant.id': 'acme', room: 'hall' }, 10n, 19), samples(10)),
          ]),
        ]),
      },
    ],
    output: [
      {
        ...seriesPoint({
          tenant: 'acme',
          metric: TEMPERATURE,
          attributes: { room: 'hall' },
          start: 0n,
          time: 20n,
          value: { value: 21 },
        }),
        exemplars: samples(10, 20),
      },
    ],
  },
  {
    name: 'a_failed_handoff_merges_its_exemplars_back_as_the_earlier_arrival',
    steps: [
      { consume: delta(withExemplars(sumPoint(ACME, 0n, 10n, 1), samples(5))) },
      { take: [requests(0n, 10n, 1, samples(5))] },
      { consume: delta(withExemplars(sumPoint(ACME, 10n, 20n, 2), [sample(5n, -1)])) },
      { settle: 'failed-all' },
    ],
    // Equal times: the later arrival (the newer point's) is the more recent, so it comes last.
    output: [requests(0n, 20n, 3, [sample(5n), sample(5n, -1)])],
  },
  {
    name: 'points_without_exemplars_hand_off_rows_without_the_field',
    steps: [{ consume: delta(sumPoint(ACME, 0n, 10n, 1)) }, { consume: delta(sumPoint(ACME, 10n, 20n, 1)) }],
    output: [requests(0n, 20n, 2)],
  },
];
