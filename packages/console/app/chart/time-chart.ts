/**
 * One time series chart, drawn by uPlot (canvas; ~50 kB, fast on thousands of points). A sum's one line is drawn
 * as bars, each over its bucket; several lines and gauges as lines through the bucket starts, with gaps where
 * there is no value. Every chart
 * is registered by name for the test hook (`window.tallyhouseConsole.chart(name)`), which reads back the data
 * uPlot holds.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TimeSeriesAnswer } from '../api/types.ts';
import { formatCompact, formatTime, isShownUnit } from '../ui/format.ts';
import { chartColumns } from './series-data.ts';

const PALETTE = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
const HEIGHT = 280;

const registry = new Map<string, uPlot>();

const STEP_SECONDS: Readonly<Record<TimeSeriesAnswer['step'], number>> = {
  '1m': 60,
  '1h': 3600,
  '1d': 86400,
};

/**
 * Tick labels in 24-hour time, ISO dates (uPlot's default is US style). Per tick spacing: the label, then the
 * second line where the year, month, day, hour or minute changes (uPlot's axis `values` table).
 */
const TIME_AXIS: uPlot.Axis['values'] = [
  [3600 * 24 * 365, '{YYYY}', null, null, null, null, null, null, 1],
  [3600 * 24 * 28, '{MMM}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600 * 24, '{MM}-{DD}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [60, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [1, ':{ss}', '\n{YYYY}-{MM}-{DD} {HH}:{mm}', null, '\n{MM}-{DD} {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
];

/** What a chart holds, as uPlot has it: x in Unix seconds, one series per line (label and values). */
export interface ChartSnapshot {
  readonly x: number[];
  readonly series: { readonly label: string; readonly values: (number | null)[] }[];
}

export function chartSnapshot(name: string): ChartSnapshot | undefined {
  const chart = registry.get(name);
  if (chart === undefined) return undefined;
  return {
    x: Array.from(chart.data[0], Number),
    series: chart.series.slice(1).map((series, i) => ({
      label: String(series.label ?? ''),
      values: Array.from(chart.data[i + 1] ?? [], (v) => (v === null || v === undefined ? null : Number(v))),
    })),
  };
}

export function chartNames(): string[] {
  return [...registry.keys()];
}

/** Draws `answer` into `container` (replacing what was there), registered as `name`; values are in `unit`. */
export function drawTimeChart(
  container: HTMLElement,
  name: string,
  answer: TimeSeriesAnswer,
  unit: string,
): void {
  const suffix = isShownUnit(unit) ? ` ${unit}` : '';
  destroyChart(name);
  container.replaceChildren();
  const { x, lines } = chartColumns(answer);
  // One sum line: bars, each over its own bucket. Several lines, or gauges: lines through the bucket starts.
  const bars =
    answer.kind === 'sum' && lines.length === 1
      ? uPlot.paths.bars?.({ align: 1, size: [0.9, 64] })
      : undefined;
  const stepSeconds = STEP_SECONDS[answer.step];
  let resize: ResizeObserver | undefined;
  const chart = new uPlot(
    {
      width: Math.max(320, container.clientWidth),
      height: HEIGHT,
      hooks: { destroy: [() => resize?.disconnect()] },
      // The x axis runs to the end of the last bucket.
      scales: { x: { time: true, range: (_u, min, max) => [min, max + stepSeconds] } },
      cursor: { drag: { x: true, y: false } },
      legend: { show: lines.length > 1 },
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '–' : formatTime(v * 1000)) },
        ...lines.map((line, i) => ({
          label: line.label,
          stroke: PALETTE[i % PALETTE.length]!,
          width: bars === undefined ? 1.5 : 0,
          ...(bars === undefined ? {} : { paths: bars, fill: `${PALETTE[0]}bb` }),
          points: { show: bars === undefined && x.length <= 48 },
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${formatCompact(v)}${suffix}`),
        })),
      ],
      axes: [{ values: TIME_AXIS }, { size: 64, values: (_u, ticks) => ticks.map((t) => formatCompact(t)) }],
    },
    [x, ...lines.map((line) => line.values)],
    container,
  );
  registry.set(name, chart);
  // uPlot draws at a fixed size: follow the container's width.
  resize = new ResizeObserver(() => {
    const width = Math.max(320, container.clientWidth);
    if (container.clientWidth > 0 && width !== chart.width) chart.setSize({ width, height: HEIGHT });
  });
  resize.observe(container);
}

export function destroyChart(name: string): void {
  registry.get(name)?.destroy();
  registry.delete(name);
}

export function destroyAllCharts(): void {
  for (const name of [...registry.keys()]) destroyChart(name);
}
