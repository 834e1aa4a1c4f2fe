/** The metric, range and step pickers, shared by the overview and the tenant page. */
import type { MetricInfo, Step } from '../api/types.ts';
import { chooseStep, DEFAULT_RANGE, RANGES, STEPS, stepsFor } from '../time-range.ts';
import { h, select } from './dom.ts';

export interface SeriesChoice {
  readonly metric: string;
  readonly range: string;
  readonly step: Step;
}

/** The choice a query string names, made valid: a stored metric, a known range, a step that range allows. */
export function choiceFromQuery(
  query: URLSearchParams,
  metrics: readonly MetricInfo[],
  spanOf: (range: string) => number,
): SeriesChoice {
  const named = query.get('metric');
  const chartable = metrics.filter((m) => m.kind !== 'histogram');
  const metric =
    metrics.find((m) => m.name === named && m.kind !== 'histogram')?.name ??
    chartable.find((m) => m.kind === 'sum')?.name ??
    chartable[0]?.name ??
    '';
  const rangeId = query.get('range') ?? DEFAULT_RANGE;
  const range = RANGES.some((r) => r.id === rangeId) ? rangeId : DEFAULT_RANGE;
  return { metric, range, step: chooseStep(query.get('step'), spanOf(range)) };
}

export function seriesControls(
  metrics: readonly MetricInfo[],
  choice: SeriesChoice,
  spanOf: (range: string) => number,
  onChange: (choice: SeriesChoice) => void,
): HTMLElement {
  const histograms = new Set(metrics.filter((m) => m.kind === 'histogram').map((m) => m.name));
  const metricOptions = metrics.map(
    (m) => [m.name, `${m.name}${m.unit === '' ? '' : ` (${m.unit})`} · ${m.kind}`] as const,
  );
  const { allowed } = stepsFor(spanOf(choice.range));
  return h(
    'div',
    { class: 'controls', role: 'group', 'aria-label': 'series' },
    h(
      'label',
      {},
      'Metric ',
      select('metric', metricOptions, choice.metric, (metric) => onChange({ ...choice, metric }), histograms),
    ),
    h(
      'label',
      {},
      'Range ',
      select(
        'range',
        RANGES.map((r) => [r.id, r.label] as const),
        choice.range,
        // A new range keeps the step when it allows it, else takes its own default.
        (range) => onChange({ ...choice, range, step: chooseStep(choice.step, spanOf(range)) }),
      ),
    ),
    h(
      'label',
      {},
      'Step ',
      select(
        'step',
        STEPS.map((s) => [s, s] as const),
        choice.step,
        (step) => onChange({ ...choice, step: step as Step }),
        new Set(STEPS.filter((s) => !allowed.includes(s))),
      ),
    ),
  );
}
