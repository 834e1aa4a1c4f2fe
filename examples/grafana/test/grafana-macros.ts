/**
 * What Grafana and the ClickHouse datasource plugin do to a query before ClickHouse sees it: dashboard variables
 * (`$name`, `${name}`, `${name:singlequote}`) and the plugin's macros (`$__timeFilter(col)`, `$__fromTime`,
 * `$__toTime`, their `_ms` forms, `$__interval_s`, `$__timeInterval(col)`), expanded as the plugin's
 * documentation says they are. Anything else that looks like a macro or a variable is an error: a dashboard
 * query the test cannot expand is one it cannot vouch for.
 */

export interface Expansion {
  /** The panel's time range (Unix ms). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Grafana's interval for the panel, in seconds. */
  readonly intervalSeconds: number;
  /** Each dashboard variable's selected values (one for a single-value variable). */
  readonly variables: Readonly<Record<string, readonly string[]>>;
}

/** `'a','b'` with quotes and backslashes escaped, as Grafana's `singlequote` format writes a selection. */
function singleQuoted(values: readonly string[]): string {
  return values.map((value) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(',');
}

export function expandQuery(sql: string, expansion: Expansion): string {
  const fromSeconds = Math.floor(expansion.fromMs / 1000);
  const toSeconds = Math.floor(expansion.toMs / 1000);
  const macros: [RegExp, (column: string) => string][] = [
    [
      /\$__timeFilter\(([^)]+)\)/g,
      (column) => `${column} >= toDateTime(${fromSeconds}) AND ${column} <= toDateTime(${toSeconds})`,
    ],
    [
      /\$__timeInterval\(([^)]+)\)/g,
      (column) => `toStartOfInterval(toDateTime(${column}), INTERVAL ${expansion.intervalSeconds} second)`,
    ],
    [/\$__fromTime_ms\b/g, () => `fromUnixTimestamp64Milli(${expansion.fromMs})`],
    [/\$__toTime_ms\b/g, () => `fromUnixTimestamp64Milli(${expansion.toMs})`],
    [/\$__fromTime\b/g, () => `toDateTime(${fromSeconds})`],
    [/\$__toTime\b/g, () => `toDateTime(${toSeconds})`],
    [/\$__interval_s\b/g, () => String(expansion.intervalSeconds)],
  ];
  let out = sql;
  for (const [pattern, replace] of macros)
    out = out.replace(pattern, (_match, column: string) => replace(column));
  const unknownMacro = /\$__\w+/.exec(out);
  if (unknownMacro !== null) throw new Error(`a macro this expander does not know: ${unknownMacro[0]}`);
  return out.replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g, (match, braced, format, bare) => {
    const name = (braced ?? bare) as string;
    const values = expansion.variables[name];
    if (values === undefined) throw new Error(`a variable the dashboard does not define: ${match}`);
    if (format === undefined) return values.join(',');
    if (format === 'singlequote') return singleQuoted(values);
    throw new Error(`a variable format this expander does not know: ${match}`);
  });
}
