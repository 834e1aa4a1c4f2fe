import {
  batch,
  CHECKOUT,
  inputMetric,
  metricInfo,
  REQUESTS,
  seriesPoint,
  sumPoint,
} from '../helpers/builders.ts';
import type { Scenario } from './scenario.ts';

const deltas = (...points: ReturnType<typeof sumPoint>[]) =>
  batch(CHECKOUT, [inputMetric(REQUESTS, 'delta', points)]);
const acme = (attributes: Record<string, unknown>) => ({ 'tenant.id': 'acme', ...attributes }) as never;
const requests = (attributes: Record<string, unknown>, value: number, resource = CHECKOUT) =>
  seriesPoint({
    tenant: 'acme',
    metric: REQUESTS,
    attributes: attributes as never,
    resource,
    start: 0n,
    time: 10n,
    value: { value },
  });

export const identityScenarios: Scenario[] = [
  {
    name: 'empty_attributes_form_one_series',
    steps: [
      // Tenant on the resource, no point attributes at all …
      {
        consume: batch({ ...CHECKOUT, 'tenant.id': 'acme' }, [
          inputMetric(REQUESTS, 'delta', [sumPoint({}, 0n, 10n, 1)]),
        ]),
      },
      // … and tenant as the only point attribute: after removing it, the same empty set.
      { consume: deltas(sumPoint({ 'tenant.id': 'acme' }, 0n, 10n, 2)) },
    ],
    output: [requests({}, 3)],
  },
  {
    name: 'attribute_order_does_not_split_series',
    steps: [
      { consume: deltas(sumPoint(acme({ method: 'GET', route: '/a' }), 0n, 10n, 1)) },
      { consume: deltas(sumPoint({ route: '/a', 'tenant.id': 'acme', method: 'GET' }, 0n, 10n, 2)) },
    ],
    output: [requests({ method: 'GET', route: '/a' }, 3)],
  },
  {
    name: 'nested_attribute_order_does_not_split_series',
    steps: [
      {
        consume: deltas(
          sumPoint(
            acme({ http: { method: 'GET', route: { path: '/a', v: 1 } }, tags: [{ x: 1, y: 2 }] }),
            0n,
            10n,
            1,
          ),
        ),
      },
      {
        consume: deltas(
          sumPoint(
            acme({ tags: [{ y: 2, x: 1 }], http: { route: { v: 1, path: '/a' }, method: 'GET' } }),
            0n,
            10n,
            2,
          ),
        ),
      },
    ],
    output: [requests({ http: { method: 'GET', route: { path: '/a', v: 1 } }, tags: [{ x: 1, y: 2 }] }, 3)],
  },
  {
    name: 'array_order_splits_series',
    steps: [
      { consume: deltas(sumPoint(acme({ tags: ['a', 'b'] }), 0n, 10n, 1)) },
      { consume: deltas(sumPoint(acme({ tags: ['b', 'a'] }), 0n, 10n, 2)) },
    ],
    output: [requests({ tags: ['a', 'b'] }, 1), requests({ tags: ['b', 'a'] }, 2)],
  },
  {
    name: 'attribute_value_types_split_series',
    steps: [
      {
        consume: deltas(
          sumPoint(acme({ code: '200' }), 0n, 10n, 1),
          sumPoint(acme({ code: 200 }), 0n, 10n, 2),
          sumPoint(acme({ code: 'true' }), 0n, 10n, 4),
          sumPoint(acme({ code: true }), 0n, 10n, 8),
          sumPoint(acme({ code: null }), 0n, 10n, 16),
        ),
      },
    ],
    output: [
      requests({ code: '200' }, 1),
      requests({ code: 200 }, 2),
      requests({ code: 'true' }, 4),
      requests({ code: true }, 8),
      requests({ code: null }, 16),
    ],
  },
  {
    name: 'unit_and_monotonicity_split_series',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 1)]),
          inputMetric({ ...REQUESTS, unit: 's' }, 'delta', [sumPoint(acme({}), 0n, 10n, 2)]),
          inputMetric({ ...REQUESTS, monotonic: false }, 'delta', [sumPoint(acme({}), 0n, 10n, 4)]),
        ]),
      },
    ],
    output: [
      requests({}, 1),
      { ...requests({}, 2), metric: { ...REQUESTS, unit: 's' } },
      { ...requests({}, 4), metric: { ...REQUESTS, monotonic: false } },
    ],
  },
  {
    name: 'kept_resource_attributes_split_series',
    options: { keepResourceAttributes: ['service.name', 'deployment.environment'] },
    steps: [
      {
        consume: {
          resourceMetrics: [
            ...batch({ ...CHECKOUT, 'deployment.environment': 'prod' }, [
              inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 1)]),
            ]).resourceMetrics,
            ...batch({ ...CHECKOUT, 'deployment.environment': 'staging' }, [
              inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 2)]),
            ]).resourceMetrics,
          ],
        },
      },
    ],
    output: [
      requests({}, 1, { 'deployment.environment': 'prod', 'service.name': 'checkout' }),
      requests({}, 2, { 'deployment.environment': 'staging', 'service.name': 'checkout' }),
    ],
  },
  {
    name: 'other_resource_attributes_do_not_split_series',
    steps: [
      {
        consume: batch({ ...CHECKOUT, 'host.name': 'h1' }, [
          inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 1)]),
        ]),
      },
      {
        consume: batch({ ...CHECKOUT, 'host.name': 'h2', 'process.pid': 7 }, [
          inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 2)]),
        ]),
      },
    ],
    // Only the kept attributes (default: service.name) remain on the resource.
    output: [requests({}, 3, CHECKOUT)],
  },
  {
    name: 'different_services_split_series',
    steps: [
      {
        consume: batch({ 'service.name': 'cart' }, [
          inputMetric(REQUESTS, 'delta', [sumPoint(acme({}), 0n, 10n, 1)]),
        ]),
      },
      { consume: deltas(sumPoint(acme({}), 0n, 10n, 2)) },
    ],
    output: [requests({}, 1, { 'service.name': 'cart' }), requests({}, 2, CHECKOUT)],
  },
  {
    name: 'metric_names_split_series',
    steps: [
      {
        consume: batch(CHECKOUT, [
          inputMetric(metricInfo('sum', 'a', { monotonic: true }), 'delta', [sumPoint(acme({}), 0n, 10n, 1)]),
          inputMetric(metricInfo('sum', 'b', { monotonic: true }), 'delta', [sumPoint(acme({}), 0n, 10n, 2)]),
        ]),
      },
    ],
    output: [
      { ...requests({}, 1), metric: metricInfo('sum', 'a', { monotonic: true }) },
      { ...requests({}, 2), metric: metricInfo('sum', 'b', { monotonic: true }) },
    ],
  },
];
