import { batch, CHECKOUT, inputMetric, REQUESTS, seriesPoint, sumPoint } from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const deltas = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'delta', points)]);
const cumulatives = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'cumulative', points)]);
const requests = (tenant: string, attributes: Record<string, string | boolean>, value: number) =>
  seriesPoint({ tenant, metric: REQUESTS, attributes, start: 0n, time: 10n, value: { value } });
const at = (tenant: string, route: string, value: number) =>
  sumPoint({ 'tenant.id': tenant, route }, 0n, 10n, value);

export const tenantScenarios: Scenario[] = [
  {
    name: 'tenant_zero_is_valid',
    steps: [{ consume: deltas(at('0', '/a', 1)), report: { acceptedPoints: 1, rejectedPoints: 0 } }],
    output: [requests('0', { route: '/a' }, 1)],
  },
  {
    name: 'empty_tenant_is_rejected',
    steps: [
      {
        // The resource names a tenant, but the point's own (empty) tenant is the one that counts.
        consume: batch({ ...CHECKOUT, 'tenant.id': 'acme' }, [
          inputMetric(REQUESTS, 'delta', [at('', '/a', 1), at('globex', '/a', 2)]),
        ]),
        report: { acceptedPoints: 1, rejectedPoints: 1, rejectedByReason: { invalid_tenant: 1 } },
      },
    ],
    output: [requests('globex', { route: '/a' }, 2)],
    stats: { acceptedPoints: 1, rejectedPoints: { invalid_tenant: 1, missing_tenant: 0 } },
  },
  {
    name: 'tenant_with_control_character_is_rejected',
    steps: [
      {
        consume: deltas(at('ac\nme', '/a', 1)),
        report: { acceptedPoints: 0, rejectedPoints: 1, rejectedByReason: { invalid_tenant: 1 } },
      },
    ],
    output: [],
  },
  {
    name: 'missing_tenant_falls_back_to_resource_attribute',
    steps: [
      {
        consume: batch({ ...CHECKOUT, 'tenant.id': 'acme' }, [
          inputMetric(REQUESTS, 'delta', [sumPoint({ route: '/a' }, 0n, 10n, 1), at('globex', '/a', 2)]),
        ]),
      },
    ],
    // The point attribute beats the resource attribute; the resource tenant is not a kept attribute.
    output: [requests('acme', { route: '/a' }, 1), requests('globex', { route: '/a' }, 2)],
  },
  {
    name: 'missing_tenant_uses_default_tenant',
    options: { defaultTenant: 'shared' },
    steps: [{ consume: deltas(sumPoint({ route: '/a' }, 0n, 10n, 1), at('acme', '/a', 2)) }],
    output: [requests('shared', { route: '/a' }, 1), requests('acme', { route: '/a' }, 2)],
  },
  {
    name: 'missing_tenant_without_default_is_rejected',
    steps: [
      {
        consume: deltas(sumPoint({ route: '/a' }, 0n, 10n, 1), at('acme', '/a', 2)),
        report: { acceptedPoints: 1, rejectedPoints: 1, rejectedByReason: { missing_tenant: 1 } },
      },
    ],
    output: [requests('acme', { route: '/a' }, 2)],
    stats: { rejectedPoints: { missing_tenant: 1, invalid_tenant: 0 } },
  },
  {
    name: 'request_tenant_wins_over_attribute',
    steps: [
      {
        consume: deltas(at('evil', '/a', 1), sumPoint({ route: '/a' }, 0n, 10n, 2)),
        request: { tenant: 'acme' },
      },
    ],
    // The payload's tenant attribute is dropped, not kept as an ordinary attribute.
    output: [requests('acme', { route: '/a' }, 3)],
  },
  {
    name: 'attribute_override_when_allowed',
    steps: [
      {
        consume: deltas(at('globex', '/a', 1), sumPoint({ route: '/a' }, 0n, 10n, 2)),
        request: { tenant: 'acme', allowAttributeOverride: true },
      },
    ],
    output: [requests('globex', { route: '/a' }, 1), requests('acme', { route: '/a' }, 2)],
  },
  {
    name: 'tenants_never_share_a_series',
    steps: [{ consume: deltas(at('acme', '/a', 1), at('globex', '/a', 2)) }],
    output: [requests('acme', { route: '/a' }, 1), requests('globex', { route: '/a' }, 2)],
  },
  {
    name: 'tenant_with_delimiters_is_kept_whole',
    steps: [{ consume: deltas(at('a:b,"c"{', '/a', 1), at('a:b', '/a', 2)) }],
    output: [requests('a:b,"c"{', { route: '/a' }, 1), requests('a:b', { route: '/a' }, 2)],
  },
  {
    name: 'per_tenant_cap_folds_into_overflow_series',
    options: { maxSeriesPerTenant: 2 },
    steps: [
      {
        consume: deltas(
          at('acme', '/a', 1),
          at('acme', '/b', 2),
          at('acme', '/c', 3),
          at('acme', '/d', 4),
          at('globex', '/a', 10),
        ),
      },
      // A series the tenant already has keeps its own point after the cap is reached.
      { consume: deltas(at('acme', '/a', 5)) },
    ],
    output: [
      requests('acme', { route: '/a' }, 6),
      requests('acme', { route: '/b' }, 2),
      requests('acme', { 'otel.metric.overflow': true }, 7),
      requests('globex', { route: '/a' }, 10),
    ],
    stats: { overflowFolds: 2 },
  },
  {
    name: 'global_cap_refuses_the_whole_input',
    options: { maxBufferedSeries: 2 },
    steps: [
      { consume: deltas(at('acme', '/a', 1)) },
      // Two new series on top of one held exceed the cap: nothing of this input is applied, not even /a.
      {
        consume: deltas(at('acme', '/a', 100), at('acme', '/b', 100), at('globex', '/a', 100)),
        refusedWith: 'BUFFER_FULL',
      },
      { consume: deltas(at('acme', '/b', 2)) },
    ],
    output: [requests('acme', { route: '/a' }, 1), requests('acme', { route: '/b' }, 2)],
    stats: { refusedBatches: 1, refusedPoints: 3 },
  },
  {
    name: 'a_tenant_past_its_stream_share_gets_only_its_new_streams_rejected',
    options: { maxTrackedStreamsPerTenant: 2 },
    steps: [
      {
        consume: cumulatives(
          at('acme', '/a', 1),
          at('acme', '/b', 2),
          at('acme', '/c', 3),
          at('globex', '/a', 10),
        ),
        report: { acceptedPoints: 3, rejectedPoints: 1, rejectedByReason: { tenant_stream_limit: 1 } },
      },
      // Not a 503 for everyone: globex adds streams, acme keeps its known ones.
      { consume: cumulatives(at('globex', '/b', 20), at('acme', '/a', 1)) },
    ],
    output: [
      requests('acme', { route: '/a' }, 1),
      requests('acme', { route: '/b' }, 2),
      requests('globex', { route: '/a' }, 10),
      requests('globex', { route: '/b' }, 20),
    ],
    stats: { trackedStreams: 4, rejectedPoints: { tenant_stream_limit: 1 } },
  },
];
