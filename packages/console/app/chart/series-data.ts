/**
 * A time series answer as the columns uPlot draws: x = bucket starts in Unix seconds, one column per line.
 * Non-finite gauge values and buckets before a gauge's first value are gaps (null).
 */
import type { SeriesLine, TimeSeriesAnswer } from '../api/types.ts';
import { formatAttributes, plottable } from '../ui/format.ts';

export interface ChartColumns {
  readonly x: number[];
  readonly lines: { readonly label: string; readonly values: (number | null)[] }[];
}

export function chartColumns(answer: TimeSeriesAnswer): ChartColumns {
  const first = answer.lines[0]?.points ?? [];
  const x = first.map((p) => Date.parse(p.start) / 1000);
  const labels = uniqueLabels(answer.lines.map((line) => lineLabel(answer, line)));
  const lines = answer.lines.map((line, i) => ({
    label: labels[i]!,
    values: line.points.map((p) => plottable(p.value)),
  }));
  return { x, lines };
}

/** What a line is: its attributes (or "total"), and for a gauge its source or how many sources were combined. */
export function lineLabel(answer: TimeSeriesAnswer, line: SeriesLine): string {
  const attributes = formatAttributes(line.key, answer.kind === 'sum' ? 'total' : answer.metric);
  if (line.sources !== undefined) return `${attributes} (${line.sources} sources)`;
  if (line.source === undefined) return attributes;
  const resource = line.source.resource;
  const where = [resource['service.name'], resource['host.name'] ?? resource['service.instance.id']]
    .filter((part) => part !== undefined && part !== '')
    .join('@');
  return where === '' ? attributes : `${attributes} · ${where}`;
}

/** Labels made distinct by a counter where two lines would read the same (e.g. one host, two scope versions). */
function uniqueLabels(labels: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const count = (seen.get(label) ?? 0) + 1;
    seen.set(label, count);
    return count === 1 ? label : `${label} #${count}`;
  });
}
