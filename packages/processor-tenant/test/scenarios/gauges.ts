import {
  batch,
  CHECKOUT,
  gaugePoint,
  inputMetric,
  REQUESTS,
  SCOPE,
  seriesPoint,
  sumPoint,
  TEMPERATURE,
} from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const KITCHEN = { 'tenant.id': 'acme', room: 'kitchen' };
const ROOM = { room: 'kitchen' };
const gauges = (...points: ReturnType<typeof gaugePoint>[]) =>
  batch(CHECKOUT, [inputMetric(TEMPERATURE, 'cumulative', points)]);
const OTHER_SCOPE = { name: 'other-library', version: SCOPE.version };
const POOL_A = { ...SCOPE, attributes: { pool: 'a' }, schemaUrl: 'https://example.com/pool' };
const POOL_B = { ...SCOPE, attributes: { pool: 'b' } };
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
  {
    name: 'the_same_gauge_from_two_hosts_keeps_both_values_and_each_source',
    steps: [
      { consume: fromHost('a', gaugePoint(KITCHEN, 10n, 19)) },
      { consume: fromHost('b', gaugePoint(KITCHEN, 20n, 25)) },
      { consume: fromHost('a', gaugePoint(KITCHEN, 30n, 20)) },
    ],
    // With sums these would merge (the default identity keeps only service.name); a gauge's value belongs to
    // its source, so each host's latest reading is a row of its own, with the host's resource attributes.
    output: [readingFrom(hostResource('a'), 30n, 20), readingFrom(hostResource('b'), 20n, 25)],
  },
  {
    name: 'the_same_gauge_from_two_scopes_keeps_both',
    steps: [
      { consume: gauges(gaugePoint(KITCHEN, 10n, 19)) },
      {
        consume: batch(
          CHECKOUT,
          [inputMetric(TEMPERATURE, 'cumulative', [gaugePoint(KITCHEN, 20n, 25)])],
          OTHER_SCOPE,
        ),
      },
    ],
    output: [reading(10n, 19), { ...reading(20n, 25), scope: OTHER_SCOPE }],
  },
  {
    name: 'sums_from_two_hosts_still_merge',
    steps: [
      {
        consume: batch(hostResource('a'), [inputMetric(REQUESTS, 'delta', [sumPoint(KITCHEN, 0n, 10n, 2)])]),
      },
      {
        consume: batch(hostResource('b'), [inputMetric(REQUESTS, 'delta', [sumPoint(KITCHEN, 0n, 10n, 3)])]),
      },
    ],
    output: [
      seriesPoint({
        tenant: 'acme',
        metric: REQUESTS,
        attributes: ROOM,
        start: 0n,
        time: 10n,
        value: { value: 5 },
      }),
    ],
  },
  {
    name: 'a_failed_gauge_handoff_merges_back_into_its_own_source',
    steps: [
      { consume: fromHost('a', gaugePoint(KITCHEN, 30n, 19)) },
      { take: [readingFrom(hostResource('a'), 30n, 19)] },
      { consume: fromHost('b', gaugePoint(KITCHEN, 40n, 25)) },
      { consume: fromHost('a', gaugePoint(KITCHEN, 20n, 21)) },
      { settle: 'failed-all' },
    ],
    output: [readingFrom(hostResource('b'), 40n, 25), readingFrom(hostResource('a'), 30n, 19)],
  },
  {
    name: 'gauge_scopes_that_differ_only_in_attributes_are_one_source',
    steps: [
      {
        consume: batch(
          CHECKOUT,
          [inputMetric(TEMPERATURE, 'cumulative', [gaugePoint(KITCHEN, 10n, 19)])],
          POOL_A,
        ),
      },
      {
        consume: batch(
          CHECKOUT,
          [inputMetric(TEMPERATURE, 'cumulative', [gaugePoint(KITCHEN, 20n, 25)])],
          POOL_B,
        ),
      },
    ],
    // A scope is told apart by name and version, as storage reads gauges; the newer reading and its scope win.
    output: [{ ...reading(20n, 25), scope: POOL_B }],
  },
  {
    name: 'the_resource_schema_url_and_scope_attributes_reach_the_rows',
    steps: [
      {
        consume: {
          resourceMetrics: [
            {
              resource: CHECKOUT,
              schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
              scopeMetrics: [
                {
                  scope: POOL_A,
                  metrics: [inputMetric(REQUESTS, 'delta', [sumPoint(KITCHEN, 0n, 10n, 2)])],
                },
              ],
            },
          ],
        },
      },
    ],
    output: [
      {
        ...seriesPoint({
          tenant: 'acme',
          metric: REQUESTS,
          attributes: ROOM,
          start: 0n,
          time: 10n,
          value: { value: 2 },
        }),
        scope: POOL_A,
        resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      },
    ],
  },
];

function hostResource(host: string) {
  return { ...CHECKOUT, 'host.name': host };
}

function fromHost(host: string, ...points: ReturnType<typeof gaugePoint>[]) {
  return batch(hostResource(host), [inputMetric(TEMPERATURE, 'cumulative', points)]);
}

function readingFrom(resource: Record<string, string>, time: bigint, value: number) {
  return { ...reading(time, value), resource };
}
