/**
 * Combining the source series of a gauge: per (metric, unit, attributes), the sources' latest values summed, or
 * their largest, smallest or mean — for the latest values of a range, and bucket by bucket for time series (each
 * source's value carried forward first, so a source that reported earlier still counts). A source without a value
 * yet does not count; with none, there is no value. Sources are combined in their answer order (sorted), so the
 * result is the same whichever storage (raw rows or rollups) answered.
 */
import type { Slicer } from '@tallyhouse/model';
import type {
  CombinedGaugeLatest,
  GaugeCombine,
  GaugeLatest,
  TimeSeriesLine,
  TimeSeriesPoint,
} from './query-types.ts';

export const GAUGE_COMBINES: readonly GaugeCombine[] = ['sum', 'max', 'min', 'avg'];

/** Refuses anything but a known combination (a `RangeError`, like the reader's other bad arguments). */
export function checkCombine(combine: unknown): GaugeCombine | undefined {
  if (combine === undefined) return undefined;
  if (!(GAUGE_COMBINES as readonly unknown[]).includes(combine)) {
    throw new RangeError(
      `combine must be one of ${GAUGE_COMBINES.join(', ')}, got ${JSON.stringify(combine)}`,
    );
  }
  return combine as GaugeCombine;
}

/** A running combination of the values that are there. */
class Combination {
  private readonly combine: GaugeCombine;
  private total = 0;
  private count = 0;

  constructor(combine: GaugeCombine) {
    this.combine = combine;
  }

  add(value: number | undefined): void {
    if (value === undefined) return;
    if (this.count === 0) this.total = value;
    else if (this.combine === 'max') this.total = Math.max(this.total, value);
    else if (this.combine === 'min') this.total = Math.min(this.total, value);
    else this.total += value;
    this.count += 1;
  }

  value(): number | undefined {
    if (this.count === 0) return undefined;
    return this.combine === 'avg' ? this.total / this.count : this.total;
  }
}

/** Attributes as a key independent of their order. */
function attributesId(attributes: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Per (metric, unit, attributes), in the order of their first source: the sources' latest values combined. */
export function combineLatest(latest: readonly GaugeLatest[], combine: GaugeCombine): CombinedGaugeLatest[] {
  const groups = new Map<string, GaugeLatest[]>();
  for (const entry of latest) {
    const id = JSON.stringify([entry.metricName, entry.unit, attributesId(entry.attributes)]);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [entry]);
    else group.push(entry);
  }
  return [...groups.values()].map((group) => {
    const [first] = group as [GaugeLatest, ...GaugeLatest[]];
    const combination = new Combination(combine);
    let newest = first.timeUnixNano;
    for (const entry of group) {
      combination.add(entry.value);
      if (entry.timeUnixNano > newest) newest = entry.timeUnixNano;
    }
    return {
      metricName: first.metricName,
      unit: first.unit,
      attributes: first.attributes,
      combine,
      value: combination.value() as number,
      timeUnixNano: newest,
      sources: group.length,
    };
  });
}

/** Loops over points look at the clock once per this many + 1 (a power of two, less one). */
const SLICE_CHECK = 1_023;

/**
 * Per (unit, attributes), in the order of their first line: the carried-forward source lines combined bucket by
 * bucket. `sources` counts the lines with a value anywhere in the answer.
 */
export async function combineLines(
  lines: readonly TimeSeriesLine[],
  combine: GaugeCombine,
  slicer: Slicer,
): Promise<TimeSeriesLine[]> {
  const groups = new Map<string, TimeSeriesLine[]>();
  for (const line of lines) {
    const id = JSON.stringify([line.unit ?? '', attributesId(line.key)]);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [line]);
    else group.push(line);
  }
  const out: TimeSeriesLine[] = [];
  for (const group of groups.values()) {
    const [first] = group as [TimeSeriesLine, ...TimeSeriesLine[]];
    const points: TimeSeriesPoint[] = new Array(first.points.length);
    for (let index = 0; index < points.length; index++) {
      const combination = new Combination(combine);
      for (const line of group) combination.add(line.points[index]?.value);
      points[index] = {
        startUnixNano: first.points[index]?.startUnixNano as bigint,
        value: combination.value(),
      };
      if ((index & SLICE_CHECK) === SLICE_CHECK && slicer.due()) await slicer.pause();
    }
    const sources = group.filter((line) => line.points.some((point) => point.value !== undefined)).length;
    out.push({ key: first.key, unit: first.unit ?? '', points, sources });
    await slicer.tick();
  }
  return out;
}
