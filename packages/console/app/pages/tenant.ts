/**
 * A tenant's page: a chart of the chosen metric (step and range pickers; a sum split by an attribute, a gauge per
 * source or combined), the total over the range, the top values of an attribute, the latest value of every gauge,
 * and the tenant's quota and rate limit with what is left. The metric picker lists what is stored for the tenant.
 */
import type { AttributeKeyInfo, LatestAnswer, LimitsAnswer, MetricInfo, TopAnswer } from '../api/types.ts';
import { drawTimeChart } from '../chart/time-chart.ts';
import { replaceQuery } from '../router.ts';
import { browserTimeZone, type ResolvedRange, resolveRange } from '../time-range.ts';
import { choiceFromQuery, type SeriesChoice, seriesControls } from '../ui/controls.ts';
import { fill, h, select } from '../ui/dom.ts';
import { bucketsText, formatAttributes, formatTime, formatValue, plottable } from '../ui/format.ts';
import { loadInto, panel, showLoading, showNote } from '../ui/panel.ts';
import type { PageContext } from './page-context.ts';

const COMBINES = ['', 'sum', 'max', 'min', 'avg'];
const TOP_LIMITS = ['5', '10', '25'];
/** Gauges whose latest values are read at once (each is one request). */
const MAX_GAUGES = 12;

interface TenantChoice extends SeriesChoice {
  /** Sums: the attribute each line is a value of (group_by); '' for one line. */
  readonly split: string;
  /** Gauges: how sources are combined; '' for one line per source. */
  readonly combine: string;
  /** The attribute of the top-N table; '' until one is named. */
  readonly by: string;
  readonly limit: string;
}

export function renderTenantPage(
  main: HTMLElement,
  ctx: PageContext,
  tenant: string,
  query: URLSearchParams,
): void {
  const controls = h('div', { class: 'controls-row' });
  const usage = panel('usage', 'Usage');
  const top = panel('top', 'Top values');
  const limits = panel('limits', 'Quota and rate limit');
  const gauges = panel('gauges', 'Gauges, latest values');
  fill(
    main,
    h('h1', {}, h('span', { class: 'muted' }, 'Tenant '), h('span', { 'data-tenant-name': true }, tenant)),
    controls,
    usage.element,
    h('div', { class: 'grid' }, top.element, limits.element),
    gauges.element,
  );
  for (const p of [usage, top, limits, gauges]) showLoading(p.body);
  void loadLimits(ctx, limits.body, tenant);

  const zone = browserTimeZone();
  const spanOf = (range: string) => resolveRange(range, Date.now(), zone).spanMs;
  void loadInto(usage.body, ctx.wrongKey, async () => {
    const { metrics } = await ctx.api.tenantMetrics(tenant, ctx.signal);
    if (metrics.length === 0) {
      showNote(usage.body, `Nothing stored for tenant ${tenant} yet.`);
      showNote(top.body, 'No sum metrics.');
      showNote(gauges.body, 'No gauges.');
      return;
    }
    void loadGauges(ctx, gauges.body, tenant, metrics);
    if (metrics.every((m) => m.kind === 'histogram')) {
      showNote(
        usage.body,
        'Only histograms are stored for this tenant: the usage API charts sums and gauges.',
      );
      showNote(top.body, 'No sum metrics.');
      return;
    }
    let choice: TenantChoice = {
      ...choiceFromQuery(query, metrics, spanOf),
      split: query.get('split') ?? '',
      combine: oneOf(query.get('combine'), COMBINES, ''),
      by: query.get('by') ?? '',
      limit: oneOf(query.get('limit'), TOP_LIMITS, '10'),
    };
    let loads: AbortController | undefined;
    // A metric's attribute keys, asked once per metric: they feed the split and top-N pickers.
    const keysByMetric = new Map<string, Promise<readonly AttributeKeyInfo[]>>();
    const keysOf = (name: string) => {
      let keys = keysByMetric.get(name);
      if (keys === undefined) {
        keys = ctx.api.attributes(tenant, name, ctx.signal).then(
          (answer) => answer.keys,
          () => [],
        );
        keysByMetric.set(name, keys);
      }
      return keys;
    };
    const refresh = (next: TenantChoice) => {
      choice = next;
      const metric = metrics.find((m) => m.name === choice.metric)!;
      replaceQuery(queryOf(choice, metric));
      loads?.abort();
      loads = new AbortController();
      const signal = AbortSignal.any([ctx.signal, loads.signal]);
      void (async () => {
        const keys = metric.kind === 'sum' ? await keysOf(metric.name) : [];
        if (signal.aborted) return;
        showControls(metric, keys);
        const range = resolveRange(choice.range, Date.now(), zone);
        void loadUsage(ctx, usage.body, tenant, metric, choice, range, signal);
        void loadTop(ctx, top, tenant, metric, choice, keys, range, signal, (c) =>
          refresh({ ...choice, ...c }),
        );
      })();
    };
    const showControls = (metric: MetricInfo, keys: readonly AttributeKeyInfo[]) => {
      fill(
        controls,
        seriesControls(metrics, choice, spanOf, (c) => refresh({ ...choice, ...c })),
        metric.kind === 'sum'
          ? attributeControl('Split by attribute', 'split', choice.split, keys, 'none', (split) =>
              refresh({ ...choice, split }),
            )
          : h(
              'label',
              { class: 'controls' },
              'Sources ',
              select(
                'combine',
                COMBINES.map((c) => [c, c === '' ? 'each source' : `${c} of sources`] as const),
                choice.combine,
                (combine) => refresh({ ...choice, combine }),
              ),
            ),
      );
    };
    refresh(choice);
  });
}

/** `value` when it is one of `choices`, else `fallback`. */
function oneOf(value: string | null, choices: readonly string[], fallback: string): string {
  return value !== null && choices.includes(value) ? value : fallback;
}

function queryOf(choice: TenantChoice, metric: MetricInfo): URLSearchParams {
  const query = new URLSearchParams({ metric: choice.metric, range: choice.range, step: choice.step });
  if (metric.kind === 'sum' && choice.split !== '') query.set('split', choice.split);
  if (metric.kind === 'gauge' && choice.combine !== '') query.set('combine', choice.combine);
  if (choice.by !== '') query.set('by', choice.by);
  if (choice.limit !== '10') query.set('limit', choice.limit);
  return query;
}

/**
 * A picker of the metric's attribute keys (with how many values each has), `none` first. A key named in the
 * address but not (or no longer) stored stays selectable, so a shared link keeps its meaning.
 */
function attributeControl(
  label: string,
  name: string,
  value: string,
  keys: readonly AttributeKeyInfo[],
  none: string,
  apply: (value: string) => void,
): HTMLElement {
  const options: (readonly [string, string])[] = [
    ['', none],
    ...keys.map((k) => [k.key, `${k.key} (${k.values} value${k.values === 1 ? '' : 's'})`] as const),
  ];
  if (value !== '' && !keys.some((k) => k.key === value)) options.push([value, value]);
  return h('label', { class: 'controls' }, `${label} `, select(name, options, value, apply));
}

async function loadUsage(
  ctx: PageContext,
  body: HTMLElement,
  tenant: string,
  metric: MetricInfo,
  choice: TenantChoice,
  range: ResolvedRange,
  signal: AbortSignal,
): Promise<void> {
  showLoading(body);
  await loadInto(body, ctx.wrongKey, async () => {
    const kind = metric.kind === 'gauge' ? 'gauge' : 'sum';
    const series = await ctx.api.timeSeries(
      tenant,
      {
        metric: metric.name,
        step: choice.step,
        range: range.params,
        kind,
        ...(kind === 'sum' && choice.split !== '' ? { groupBy: choice.split } : {}),
        ...(kind === 'gauge' && choice.combine !== '' ? { combine: choice.combine } : {}),
      },
      signal,
    );
    // The total over exactly the chart's buckets (the API widens a range to whole steps).
    const total =
      kind === 'sum'
        ? await ctx.api.total(tenant, metric.name, { from: series.bucketsFrom, to: series.bucketsTo }, signal)
        : undefined;
    const chart = h('div', { class: 'chart', 'data-chart': 'tenant-usage' });
    const figure = h(
      'p',
      { class: 'figure' },
      total === undefined
        ? `${series.lines.length} source${series.lines.length === 1 ? '' : 's'}`
        : h('span', { class: 'figure-value', 'data-total': true }, formatValue(total.total, metric.unit)),
      ` ${bucketsText(series)}`,
    );
    if (series.lines.length === 0)
      return fill(body, figure, h('p', { class: 'note' }, 'No values in this range.'));
    fill(body, figure, chart);
    drawTimeChart(chart, 'tenant-usage', series, metric.unit);
  });
}

async function loadTop(
  ctx: PageContext,
  top: { element: HTMLElement; body: HTMLElement },
  tenant: string,
  metric: MetricInfo,
  choice: TenantChoice,
  keys: readonly AttributeKeyInfo[],
  range: ResolvedRange,
  signal: AbortSignal,
  change: (c: Partial<TenantChoice>) => void,
): Promise<void> {
  const controls = h(
    'div',
    { class: 'controls-row' },
    attributeControl('By attribute', 'by', choice.by, keys, 'pick one', (by) => change({ by })),
    h(
      'label',
      { class: 'controls' },
      'Show ',
      select(
        'top-limit',
        TOP_LIMITS.map((n) => [n, n] as const),
        choice.limit,
        (limit) => change({ limit }),
      ),
    ),
  );
  if (metric.kind !== 'sum')
    return fill(top.body, h('p', { class: 'note' }, 'Top values add usage up: pick a sum metric.'));
  if (choice.by === '')
    return fill(
      top.body,
      controls,
      h(
        'p',
        { class: 'note' },
        keys.length === 0 ? `${metric.name} has no attributes.` : `Pick an attribute of ${metric.name}.`,
      ),
    );
  fill(top.body, controls, h('p', { class: 'note loading' }, 'Loading…'));
  const result = h('div');
  await loadInto(result, ctx.wrongKey, async () => {
    const answer = await ctx.api.top(
      tenant,
      { metric: metric.name, by: choice.by, limit: Number(choice.limit), range: range.params },
      signal,
    );
    fill(result, topTable(answer, metric.unit));
  });
  if (!signal.aborted) fill(top.body, controls, result);
}

function topTable(answer: TopAnswer, unit: string): HTMLElement {
  if (answer.entries.length === 0)
    return h('p', { class: 'note' }, `No values of ${answer.by} in this range.`);
  const largest = Math.max(...answer.entries.map((e) => plottable(e.total) ?? 0), 0);
  return h(
    'table',
    { class: 'data', 'data-table': 'top' },
    h('thead', {}, h('tr', {}, h('th', {}, answer.by), h('th', { class: 'num' }, 'Total'), h('th', {}, ''))),
    h(
      'tbody',
      {},
      answer.entries.map((entry) => {
        const bar = h('div', { class: 'bar' });
        bar.style.width = `${largest > 0 ? ((plottable(entry.total) ?? 0) / largest) * 100 : 0}%`;
        return h(
          'tr',
          {},
          h('td', {}, entry.value),
          h('td', { class: 'num' }, formatValue(entry.total, unit)),
          h('td', { class: 'bar-cell' }, bar),
        );
      }),
    ),
  );
}

async function loadGauges(
  ctx: PageContext,
  body: HTMLElement,
  tenant: string,
  metrics: readonly MetricInfo[],
): Promise<void> {
  const gaugeMetrics = metrics.filter((m) => m.kind === 'gauge');
  if (gaugeMetrics.length === 0) return showNote(body, 'No gauges stored for this tenant.');
  await loadInto(body, ctx.wrongKey, async () => {
    const shown = gaugeMetrics.slice(0, MAX_GAUGES);
    const answers = await Promise.all(shown.map((m) => ctx.api.latest(tenant, m.name, ctx.signal)));
    fill(
      body,
      gaugesTable(answers),
      gaugeMetrics.length > shown.length
        ? h('p', { class: 'note' }, `${gaugeMetrics.length - shown.length} more gauges: pick them above.`)
        : null,
    );
  });
}

function gaugesTable(answers: readonly LatestAnswer[]): HTMLElement {
  return h(
    'table',
    { class: 'data', 'data-table': 'gauges' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Gauge'),
        h('th', {}, 'Attributes'),
        h('th', {}, 'Source'),
        h('th', { class: 'num' }, 'Value'),
        h('th', {}, 'At'),
      ),
    ),
    h(
      'tbody',
      {},
      answers.flatMap((answer) =>
        answer.latest.map((entry) =>
          h(
            'tr',
            { 'data-gauge': answer.metric },
            h('td', {}, answer.metric),
            h('td', {}, formatAttributes(entry.attributes, '–')),
            h('td', {}, entry.source === undefined ? '–' : sourceText(entry.source.resource)),
            h('td', { class: 'num' }, formatValue(entry.value, entry.unit)),
            h('td', {}, formatTime(entry.time)),
          ),
        ),
      ),
    ),
  );
}

function sourceText(resource: Readonly<Record<string, string>>): string {
  const parts = [resource['service.name'], resource['host.name'] ?? resource['service.instance.id']];
  const text = parts.filter((p) => p !== undefined && p !== '').join('@');
  return text === '' ? '–' : text;
}

async function loadLimits(ctx: PageContext, body: HTMLElement, tenant: string): Promise<void> {
  await loadInto(body, ctx.wrongKey, async () => {
    fill(body, limitsView(await ctx.api.limits(tenant, ctx.signal)));
  });
}

function limitsView(limits: LimitsAnswer): HTMLElement {
  const quotas = limits.quotas.map((quota) => {
    const meter = h('meter', {
      min: 0,
      max: quota.limit,
      value: Math.min(quota.used, quota.limit),
      high: quota.limit * 0.8,
      optimum: 0,
    });
    return h(
      'div',
      { class: 'quota', 'data-quota': quota.period },
      h(
        'p',
        {},
        h('strong', {}, `${formatValue(quota.remaining)} data points left`),
        ` of this ${quota.period}'s ${formatValue(quota.limit)} (${formatValue(quota.used)} used)`,
      ),
      meter,
      h(
        'p',
        { class: 'note' },
        `Period from ${formatTime(quota.periodStart)}, resets ${formatTime(quota.resetsAt)} (${quota.timeZone} ${quota.period}s)`,
      ),
    );
  });
  const rate =
    limits.rate === null
      ? h('p', { 'data-rate': 'none' }, 'No rate limit.')
      : h(
          'p',
          { 'data-rate': 'set' },
          `Rate limit: ${formatValue(limits.rate.pointsPerSecond)} data points/s, bursts of ${formatValue(limits.rate.burst)} (${formatValue(limits.rate.available)} available now).`,
        );
  return h('div', {}, quotas.length === 0 ? h('p', { 'data-quota': 'none' }, 'No quota.') : quotas, rate);
}
