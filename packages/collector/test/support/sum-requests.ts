/**
 * OTLP/JSON requests of monotonic sums, as the bodies the durability tests send, resend and read back totals of.
 */

/** A fixed instant (2023-11-14), so the bodies of one test are byte-identical from run to run. */
export const BASE_NS = 1_700_000_000_000_000_000n;

export interface SumPoint {
  readonly metric: string;
  /** An integer is sent as `asInt`, anything else as `asDouble`. */
  readonly value: number;
  /** Distinguishes series (an attribute `stream`); no attributes when absent. */
  readonly stream?: string;
  readonly startNs: bigint;
  readonly timeNs: bigint;
}

/** One OTLP/JSON request of monotonic sums in the given temporality (1 delta, 2 cumulative). */
export function sumRequest(points: readonly SumPoint[], temporality: 1 | 2, service = 'svc'): string {
  const byMetric = new Map<string, SumPoint[]>();
  for (const point of points) byMetric.set(point.metric, [...(byMetric.get(point.metric) ?? []), point]);
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [
          {
            scope: { name: 'durability-test' },
            metrics: [...byMetric].map(([name, list]) => ({
              name,
              unit: '1',
              sum: {
                aggregationTemporality: temporality,
                isMonotonic: true,
                dataPoints: list.map((point) => ({
                  attributes:
                    point.stream === undefined
                      ? []
                      : [{ key: 'stream', value: { stringValue: point.stream } }],
                  startTimeUnixNano: String(point.startNs),
                  timeUnixNano: String(point.timeNs),
                  ...(Number.isSafeInteger(point.value)
                    ? { asInt: String(point.value) }
                    : { asDouble: point.value }),
                })),
              },
            })),
          },
        ],
      },
    ],
  });
}

/** A delta request with one point per metric (`metric → value`), over its own 1 ms interval ending at `at` ms. */
export function deltaSums(at: number, values: Record<string, number>): string {
  const time = BASE_NS + BigInt(at) * 1_000_000n;
  return sumRequest(
    Object.entries(values).map(([metric, value]) => ({
      metric,
      value,
      stream: 's',
      startNs: time - 1_000_000n,
      timeNs: time,
    })),
    1,
  );
}
