import { batch, CHECKOUT, gaugePoint, inputMetric, seriesPoint, TEMPERATURE } from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const KITCHEN = { 'tenant.id': 'acme', room: 'kitchen' };
const ROOM = { room: 'kitchen' };
const gauges = (...points: ReturnType<typeof gaugePoint>[]) =>
  batch(CHECKOUT, [inputMetric(TEMPERATURE, 'cumulative', points)]);
const reading = (time: bigint, value: number) =>
  seriesPoint({ tenant: 'acme', metric: TEMPERATURE, attributes: ROOM, start: 0n, time, value: { value } });

export const gaugeScenarios: Scenario[] = [
  {
    name: 'gauges_keep_the_newest_timestamp',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 10n, 19)) },
      { consume: gauges(gaugePoint(KITCHEN, 20n, 21)) },
    ],
    output: [reading(20n, 21)],
    // Gauges are never converted, whatever temporality the source claims.
    stats: { trackedStreams: 0 },
  },
  {
    name: 'gauges_on_equal_timestamps_keep_the_later_arrival',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 20n, 19), gaugePoint(KITCHEN, 20n, 20)) },
      { consume: gauges(gaugePoint(KITCHEN, 20n, 22)) },
    ],
    output: [reading(20n, 22)],
  },
  {
    name: 'gauges_on_equal_timestamps_within_one_input_keep_the_later_point',
    steps: [{ consume: gauges(gaugePoint(KITCHEN, 20n, 19), gaugePoint(KITCHEN, 20n, 20)) }],
    output: [reading(20n, 20)],
  },
  {
    name: 'out_of_order_gauge_does_not_replace_newer',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 20n, 21)) },
      { consume: gauges(gaugePoint(KITCHEN, 10n, 19)) },
    ],
    output: [reading(20n, 21)],
  },
  {
    name: 'failed_gauge_handoff_loses_to_a_newer_buffered_reading',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 10n, 19)) },
      { take: [reading(10n, 19)] },
      { consume: gauges(gaugePoint(KITCHEN, 20n, 21)) },
      { settle: 'failed-all' },
    ],
    output: [reading(20n, 21)],
  },
  {
    name: 'failed_gauge_handoff_on_equal_timestamp_loses_to_the_later_arrival',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 10n, 19)) },
      { take: [reading(10n, 19)] },
      { consume: gauges(gaugePoint(KITCHEN, 10n, 23)) },
      { settle: 'failed-all' },
    ],
    output: [reading(10n, 23)],
  },
  {
    name: 'failed_gauge_handoff_wins_over_an_older_buffered_reading',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 30n, 25)) },
      { take: [reading(30n, 25)] },
      { consume: gauges(gaugePoint(KITCHEN, 20n, 21)) },
      { settle: 'failed-all' },
    ],
    output: [reading(30n, 25)],
  },
];
