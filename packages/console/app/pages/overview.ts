/**
 * The overview: every tenant's usage of one sum metric — the total trend (all tenants summed, per step) and the
 * tenants with the largest totals over the range, each linking to its tenant page.
 */
import type { TopTenantsAnswer } from '../api/types.ts';
import { drawTimeChart } from '../chart/time-chart.ts';
import { replaceQuery, tenantHref } from '../router.ts';
import { browserTimeZone, resolveRange } from '../time-range.ts';
import { choiceFromQuery, type SeriesChoice, seriesControls } from '../ui/controls.ts';
import { fill, h, select } from '../ui/dom.ts';
import { bucketsText, formatValue, plottable } from '../ui/format.ts';
import { loadInto, panel, showLoading, showNote } from '../ui/panel.ts';
import type { PageContext } from './page-context.ts';

const LIMITS = ['5', '10', '25', '50'];

export function renderOverview(main: HTMLElement, ctx: PageContext, query: URLSearchParams): void {
  const controls = h('div', { class: 'controls-row' });
  const trend = panel('trend', 'Total over all tenants');
  const top = panel('top-tenants', 'Top tenants');
  fill(main, h('h1', {}, 'Overview'), controls, trend.element, top.element);
  showLoading(trend.body);
  showLoading(top.body);
  const zone = browserTimeZone();
  const spanOf = (range: string) => resolveRange(range, Date.now(), zone).spanMs;

  void loadInto(trend.body, ctx.wrongKey, async () => {
    const { metrics } = await ctx.api.adminMetrics(ctx.signal);
    // Totals and top tenants add values up: sums only.
    const sums = metrics.filter((m) => m.kind === 'sum');
    if (sums.length === 0) {
      showNote(trend.body, 'No usage stored yet: send OTLP metrics to /v1/metrics and they show up here.');
      showNote(top.body, 'No tenants yet.');
      return;
    }
    let choice = choiceFromQuery(query, sums, spanOf);
    const askedLimit = query.get('limit');
    let limit = askedLimit !== null && LIMITS.includes(askedLimit) ? askedLimit : '10';
    let loads: AbortController | undefined;
    const refresh = () => {
      replaceQuery(
        new URLSearchParams({ metric: choice.metric, range: choice.range, step: choice.step, limit }),
      );
      fill(
        controls,
        seriesControls(sums, choice, spanOf, (next) => {
          choice = next;
          refresh();
        }),
        h(
          'label',
          { class: 'controls' },
          'Tenants ',
          select(
            'limit',
            LIMITS.map((n) => [n, n] as const),
            limit,
            (next) => {
              limit = next;
              refresh();
            },
          ),
        ),
      );
      loads?.abort();
      loads = new AbortController();
      const signal = AbortSignal.any([ctx.signal, loads.signal]);
      const unit = sums.find((m) => m.name === choice.metric)?.unit ?? '';
      void loadTrend(ctx, trend.body, choice, unit, signal);
      void loadTopTenants(ctx, top.body, choice, Number(limit), unit, signal);
    };
    refresh();
  });
}

async function loadTrend(
  ctx: PageContext,
  body: HTMLElement,
  choice: SeriesChoice,
  unit: string,
  signal: AbortSignal,
): Promise<void> {
  showLoading(body);
  await loadInto(body, ctx.wrongKey, async () => {
    const range = resolveRange(choice.range, Date.now(), browserTimeZone());
    const answer = await ctx.api.adminTimeSeries(
      { metric: choice.metric, step: choice.step, range: range.params },
      signal,
    );
    const sum = (answer.lines[0]?.points ?? []).reduce((total, p) => total + (plottable(p.value) ?? 0), 0);
    const chart = h('div', { class: 'chart', 'data-chart': 'overview-trend' });
    fill(
      body,
      h(
        'p',
        { class: 'figure' },
        h('span', { class: 'figure-value', 'data-total': true }, formatValue(sum, unit)),
        ` ${bucketsText(answer)}`,
      ),
      chart,
    );
    drawTimeChart(chart, 'overview-trend', answer, unit);
  });
}

async function loadTopTenants(
  ctx: PageContext,
  body: HTMLElement,
  choice: SeriesChoice,
  limit: number,
  unit: string,
  signal: AbortSignal,
): Promise<void> {
  showLoading(body);
  await loadInto(body, ctx.wrongKey, async () => {
    const range = resolveRange(choice.range, Date.now(), browserTimeZone());
    const answer = await ctx.api.topTenants(choice.metric, range.params, limit, signal);
    if (answer.entries.length === 0) return showNote(body, `No tenant used ${choice.metric} in this range.`);
    fill(body, topTenantsTable(answer, choice, unit));
  });
}

function topTenantsTable(answer: TopTenantsAnswer, choice: SeriesChoice, unit: string): HTMLElement {
  const largest = Math.max(...answer.entries.map((e) => plottable(e.total) ?? 0), 0);
  // The tenant page opens on the same metric and range.
  const carried = new URLSearchParams({ metric: choice.metric, range: choice.range, step: choice.step });
  return h(
    'table',
    { class: 'data', 'data-table': 'top-tenants' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, '#'),
        h('th', {}, 'Tenant'),
        h('th', { class: 'num' }, 'Total'),
        h('th', {}, ''),
      ),
    ),
    h(
      'tbody',
      {},
      answer.entries.map((entry, i) => {
        const bar = h('div', { class: 'bar' });
        bar.style.width = `${largest > 0 ? ((plottable(entry.total) ?? 0) / largest) * 100 : 0}%`;
        return h(
          'tr',
          { 'data-tenant': entry.tenant },
          h('td', { class: 'rank' }, String(i + 1)),
          h('td', {}, h('a', { href: tenantHref(entry.tenant, carried), 'data-link': true }, entry.tenant)),
          h('td', { class: 'num' }, formatValue(entry.total, unit)),
          h('td', { class: 'bar-cell' }, bar),
        );
      }),
    ),
  );
}
