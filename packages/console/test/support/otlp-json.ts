/**
 * OTLP/JSON export requests with points at chosen times (the stock SDK stamps "now"; a chart over a day needs a
 * day of points), sent over a real socket to the collector's /v1/metrics.
 */

export interface SumPoint {
  readonly attributes: Readonly<Record<string, string>>;
  /** The point's time; the delta covers the `intervalMs` before it. */
  readonly timeMs: number;
  readonly value: number;
}

export interface GaugePoint {
  readonly attributes: Readonly<Record<string, string>>;
  readonly timeMs: number;
  readonly value: number;
}

export type MetricData =
  | {
      readonly kind: 'sum';
      readonly name: string;
      readonly unit: string;
      readonly intervalMs: number;
      readonly points: readonly SumPoint[];
    }
  | {
      readonly kind: 'gauge';
      readonly name: string;
      readonly unit: string;
      readonly points: readonly GaugePoint[];
    };

export interface ResourceData {
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: { readonly name: string; readonly version: string };
  readonly metrics: readonly MetricData[];
}

/** proto3 JSON spells non-finite doubles as strings ("NaN", "Infinity"). */
const double = (value: number) => (Number.isFinite(value) ? value : String(value));
const nanos = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();
const keyValues = (attributes: Readonly<Record<string, string>>) =>
  Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } }));

/** AGGREGATION_TEMPORALITY_DELTA */
const DELTA = 1;

export function otlpJson(resources: readonly ResourceData[]): object {
  return {
    resourceMetrics: resources.map((r) => ({
      resource: { attributes: keyValues(r.resource) },
      scopeMetrics: [
        {
          scope: r.scope,
          metrics: r.metrics.map((m) =>
            m.kind === 'sum'
              ? {
                  name: m.name,
                  unit: m.unit,
                  sum: {
                    aggregationTemporality: DELTA,
                    isMonotonic: true,
                    dataPoints: m.points.map((p) => ({
                      attributes: keyValues(p.attributes),
                      startTimeUnixNano: nanos(p.timeMs - m.intervalMs),
                      timeUnixNano: nanos(p.timeMs),
                      asDouble: double(p.value),
                    })),
                  },
                }
              : {
                  name: m.name,
                  unit: m.unit,
                  gauge: {
                    dataPoints: m.points.map((p) => ({
                      attributes: keyValues(p.attributes),
                      timeUnixNano: nanos(p.timeMs),
                      asDouble: double(p.value),
                    })),
                  },
                },
          ),
        },
      ],
    })),
  };
}

/** POSTs one export for `tenant`; fails unless every point was accepted. */
export async function sendOtlpJson(origin: string, tenant: string, body: object): Promise<void> {
  const response = await fetch(`${origin}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('rejected')) {
    throw new Error(`export for ${tenant}: ${response.status} ${text}`);
  }
}
