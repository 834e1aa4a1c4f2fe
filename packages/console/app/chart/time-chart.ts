/**
 * One time series chart, drawn by uPlot (canvas; ~50 kB, fast on thousands of points). Sums are drawn as steps
 * (a bucket's value holds over the whole bucket), gauges as lines with gaps where there is no value. Every chart
 * is registered by name for the test hook (`window.tallyhouseConsole.chart(name)`), which reads back the data
 * uPlot holds.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TimeSeriesAnswer } from '../api/types.ts';
import { formatCompact, formatTime } from '../ui/format.ts';
import { chartColumns } from './series-data.ts';

const PALETTE = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
const HEIGHT = 280;

const registry = new Map<string, uPlot>();

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

/** Draws `answer` into `container` (replacing what was there), registered as `name`. */
export function drawTimeChart(
  container: HTMLElement,
  name: string,
  answer: TimeSeriesAnswer,
  unit = '',
): void {
  destroyChart(name);
  container.replaceChildren();
  const { x, lines } = chartColumns(answer);
  const stepped = answer.kind === 'sum' ? uPlot.paths.stepped?.({ align: 1 }) : undefined;
  let resize: ResizeObserver | undefined;
  const chart = new uPlot(
    {
      width: Math.max(320, container.clientWidth),
      height: HEIGHT,
      hooks: { destroy: [() => resize?.disconnect()] },
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '–' : formatTime(v * 1000)) },
        ...lines.map((line, i) => ({
          label: line.label,
          stroke: PALETTE[i % PALETTE.length]!,
          width: 1.5,
          ...(lines.length === 1 ? { fill: `${PALETTE[0]}22` } : {}),
          ...(stepped === undefined ? {} : { paths: stepped }),
          points: { show: x.length <= 48 },
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${formatCompact(v)}${unit}`),
        })),
      ],
      axes: [{}, { size: 64, values: (_u, ticks) => ticks.map((t) => formatCompact(t)) }],
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
