import { type SeriesPoint, TallyhouseError } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../../src/accumulator.ts';
import { sortedBySeries } from '../helpers/builders.ts';
import { exemplarScenarios } from './exemplars.ts';
import { gaugeScenarios } from './gauges.ts';
import { histogramScenarios } from './histograms.ts';
import { identityScenarios } from './identity.ts';
import type { Scenario } from './scenario.ts';
import { summaryScenarios } from './summaries.ts';
import { sumScenarios } from './sums.ts';
import { tenantScenarios } from './tenants.ts';

function run(scenario: Scenario) {
  // No environment variable may leak into a golden scenario: every option is explicit or a default.
  const accumulator = new Accumulator({ now: () => 0, ...scenario.options });
  let inFlight: SeriesPoint[] | undefined;
  for (const [index, step] of scenario.steps.entries()) {
    const where = `${scenario.name}, step ${index}`;
    if ('consume' in step) {
      if (step.refusedWith !== undefined) {
        let error: unknown;
        try {
          accumulator.consume(step.consume, step.request);
        } catch (caught) {
          error = caught;
        }
        expect(error, where).toBeInstanceOf(TallyhouseError);
        expect((error as TallyhouseError).code, where).toBe(step.refusedWith);
        continue;
      }
      const report = accumulator.consume(step.consume, step.request);
      if (step.report !== undefined) expect(report, where).toMatchObject(step.report);
    } else if ('take' in step) {
      inFlight = accumulator.take();
      expect(sortedBySeries(inFlight), where).toStrictEqual(sortedBySeries(step.take));
    } else {
      if (inFlight === undefined) throw new Error(`${where}: settle without a take`);
      accumulator.settle(inFlight.length, step.settle === 'failed-all' ? inFlight : []);
      inFlight = undefined;
    }
  }
  const output = accumulator.take();
  expect(sortedBySeries(output)).toStrictEqual(sortedBySeries(scenario.output));
  if (scenario.stats !== undefined) expect(accumulator.stats()).toMatchObject(scenario.stats);
}

const groups: Record<string, Scenario[]> = {
  sums: sumScenarios,
  gauges: gaugeScenarios,
  exemplars: exemplarScenarios,
  histograms: histogramScenarios,
  summaries: summaryScenarios,
  identity: identityScenarios,
  tenants: tenantScenarios,
};

describe('golden scenarios', () => {
  it('have unique names', () => {
    const names = Object.values(groups).flatMap((scenarios) => scenarios.map((s) => s.name));
    expect(new Set(names).size).toBe(names.length);
  });

  for (const [group, scenarios] of Object.entries(groups)) {
    describe(group, () => {
      for (const scenario of scenarios) it(scenario.name, () => run(scenario));
    });
  }
});
