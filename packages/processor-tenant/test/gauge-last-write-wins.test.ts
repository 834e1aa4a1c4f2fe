/** Gauges: last write wins by timestamp, ties go to the later arrival, whatever the arrival order and hand-offs. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import { CHECKOUT, gaugePoint, inputMetric, SCOPE, TEMPERATURE } from './helpers/builders.ts';

describe('property: gauge last write wins', () => {
  const arrivalsArb = fc.array(
    fc.record({
      time: fc.bigInt({ min: 1n, max: 6n }),
      /** Cut the input here (a new consume call) … */
      newInput: fc.boolean(),
      /** … and before it, let the next stage take and fail everything held so far. */
      failedHandOff: fc.boolean(),
    }),
    { minLength: 1, maxLength: 12 },
  );

  it('keeps the newest timestamp and, among equal ones, the last arrival', () => {
    fc.assert(
      fc.property(arrivalsArb, (arrivals) => {
        const accumulator = new Accumulator({ now: () => 0 });
        const kitchen = { 'tenant.id': 'acme', room: 'kitchen' };
        let pending: ReturnType<typeof gaugePoint>[] = [];
        const flush = () => {
          if (pending.length === 0) return;
          accumulator.consume({
            resourceMetrics: [
              {
                resource: CHECKOUT,
                scopeMetrics: [{ scope: SCOPE, metrics: [inputMetric(TEMPERATURE, 'delta', pending)] }],
              },
            ],
          });
          pending = [];
        };
        arrivals.forEach((arrival, index) => {
          if (arrival.newInput) {
            flush();
            if (arrival.failedHandOff) {
              const taken = accumulator.take();
              accumulator.settle(taken.length, taken);
            }
          }
          // The value is the arrival index, so the winner names itself.
          pending.push(gaugePoint(kitchen, arrival.time, index));
        });
        flush();
        // biome-ignore lint/complexity/useMathMinMax: bigint timestamps; Math.max takes numbers only
        const maxTime = arrivals.reduce((max, arrival) => (arrival.time > max ? arrival.time : max), 0n);
        const winner = arrivals.findLastIndex((arrival) => arrival.time === maxTime);
        const points = accumulator.take();
        expect(points).toHaveLength(1);
        expect(points[0]?.timeUnixNano).toBe(maxTime);
        expect(points[0]?.value).toEqual({ value: winner });
      }),
      { numRuns: 300 },
    );
  });
});
