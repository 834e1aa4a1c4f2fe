/** The campaign summary: cases by kind, statuses, points accepted and rejected, failures with how to reproduce them. */
import { CASE_KINDS, type FuzzCase, makeCase } from './cases.ts';
import type { CampaignOptions, CampaignReport } from './runner.ts';
import { reproduceCommand } from './runner.ts';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

/** A readable report; `maxFailures` bounds how many failures are listed one by one. */
export function formatReport(
  report: CampaignReport,
  options: Pick<CampaignOptions, 'avoid' | 'kinds'>,
  maxFailures = 25,
): string {
  const lines: string[] = [];
  const avoid =
    options.avoid === undefined || options.avoid.size === 0
      ? ''
      : `  avoiding ${[...options.avoid].join(', ')}`;
  lines.push(
    `fuzz campaign: seed ${report.seed}, ${report.cases} cases, ${(report.ms / 1000).toFixed(1)} s, ${report.sessions} collector data dir(s)${avoid}`,
  );
  const rows: string[][] = [
    ['kind', 'cases', '200', '4xx', '503/429', 'other', 'points kept', 'points rejected'],
  ];
  const total = { cases: 0, ok: 0, client: 0, push: 0, other: 0, kept: 0, rejected: 0 };
  for (const kind of CASE_KINDS) {
    const records = report.records.filter((r) => r.kind === kind);
    if (records.length === 0) continue;
    const count = (p: (s: number | string) => boolean) => records.filter((r) => p(r.status)).length;
    const row = {
      cases: records.length,
      ok: count((s) => s === 200),
      client: count((s) => typeof s === 'number' && s >= 400 && s < 500 && s !== 429),
      push: count((s) => s === 503 || s === 429),
      other: 0,
      kept: records.reduce((a, r) => a + r.accepted, 0),
      rejected: records.reduce((a, r) => a + (r.rejected ?? 0), 0),
    };
    row.other = row.cases - row.ok - row.client - row.push;
    for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += row[key];
    rows.push([kind, ...Object.values(row).map(String)]);
  }
  rows.push(['total', ...Object.values(total).map(String)]);
  lines.push(table(rows));
  const statuses = new Map<string, number>();
  for (const r of report.records) statuses.set(String(r.status), (statuses.get(String(r.status)) ?? 0) + 1);
  lines.push(
    `statuses: ${[...statuses]
      .sort()
      .map(([s, n]) => `${s} ×${n}`)
      .join(', ')}`,
  );
  if (report.unverified > 0) lines.push(`tenants whose storage could not be checked: ${report.unverified}`);
  if (report.failures.length === 0) {
    lines.push('failures: none');
    return lines.join('\n');
  }
  const byCategory = new Map<string, Set<number | undefined>>();
  for (const f of report.failures)
    byCategory.set(f.category, (byCategory.get(f.category) ?? new Set()).add(f.index));
  lines.push(
    `failures: ${report.failures.length} in ${new Set(report.failures.map((f) => f.index)).size} cases — ${[...byCategory].map(([c, s]) => `${c} ${s.size}`).join(', ')}`,
  );
  const cases = new Map<number, FuzzCase>();
  for (const f of report.failures.slice(0, maxFailures)) {
    let c: FuzzCase | undefined;
    if (f.index !== undefined && f.index < 1_000_000_000) {
      c = cases.get(f.index) ?? makeCase(report.seed, f.index, options);
      cases.set(f.index, c);
    }
    const about =
      c === undefined
        ? ''
        : ` ${c.kind} (${c.detail})${c.features.length > 0 ? ` [${c.features.join('; ')}]` : ''}`;
    lines.push(`- case ${f.index ?? '-'} ${f.category}:${about}`);
    lines.push(`    ${f.message.replaceAll('\n', '\n    ')}`);
    if (f.index !== undefined)
      lines.push(`    reproduce: ${reproduceCommand(report.seed, f.index, options)}`);
    const shrunk = f.index === undefined ? undefined : report.shrunk.get(f.index);
    if (shrunk !== undefined)
      lines.push(`    shrunk request (model):\n      ${shrunk.slice(0, 3000).replaceAll('\n', '\n      ')}`);
  }
  if (report.failures.length > maxFailures) lines.push(`… and ${report.failures.length - maxFailures} more`);
  lines.push(
    `reproduce the campaign: ${reproduceCommand(report.seed, undefined, options)} --cases ${report.cases}`,
  );
  return lines.join('\n');
}
