/**
 * The one place a read names a table. `TenantScopedQuery.from(source)` is the only way the usage reader writes a
 * `FROM <table>`, and it always writes `WHERE TenantId = {tenant:String}` right after it, with the tenant
 * validated before the builder exists. Values are always bound parameters (`{pN:Type}`); tables come from an
 * allow-list of sources. `assertTenantScoped` re-checks the final SQL text before it is sent.
 *
 * Cross-tenant reads use `AdminQuery`, which only the reader's `admin*` methods construct.
 */
import { validateTenant } from '@tallyhouse/model';
import {
  ROLLUP_GRAINS,
  ROLLUP_KINDS,
  type RollupGrain,
  type RollupKind,
  rollupTable,
} from '../schema/rollups.ts';
import { qualified } from '../schema/sql.ts';
import { METRIC_TABLES } from '../schema/tables.ts';

export const TENANT_PREDICATE = 'TenantId = {tenant:String}';

/** Every table a usage read may touch. */
export type ReadSource =
  | { readonly raw: keyof typeof METRIC_TABLES }
  | { readonly rollup: RollupKind; readonly grain: RollupGrain };

/** Parameter types a read may bind. */
export type ParamType = 'String' | 'Int64' | 'Array(String)';

function sourceTable(source: ReadSource): string {
  if ('raw' in source) {
    const table = METRIC_TABLES[source.raw];
    if (table === undefined) throw new TypeError(`unknown raw source ${JSON.stringify(source.raw)}`);
    return table;
  }
  if (!ROLLUP_KINDS.includes(source.rollup) || !ROLLUP_GRAINS.includes(source.grain)) {
    throw new TypeError(`unknown rollup source ${JSON.stringify(source)}`);
  }
  return rollupTable(source.rollup, source.grain);
}

/** Builds one statement: binds values, names tables. */
export abstract class QueryBuilder {
  readonly params: Record<string, unknown> = {};
  private counter = 0;
  protected readonly database: string;

  constructor(database: string) {
    this.database = database;
  }

  /** Binds `value` and returns its placeholder. */
  bind(type: ParamType, value: string | readonly string[]): string {
    const name = `p${this.counter++}`;
    this.params[name] = value;
    return `{${name}:${type}}`;
  }

  /** `FROM <table> WHERE <scope>[ AND <condition>…]`. */
  abstract from(source: ReadSource, conditions: readonly string[]): string;

  protected table(source: ReadSource): string {
    return qualified({ database: this.database }, sourceTable(source));
  }
}

export class TenantScopedQuery extends QueryBuilder {
  readonly tenant: string;

  /** Throws `InvalidTenantError` for an empty or invalid tenant — before any SQL exists. */
  constructor(database: string, tenant: unknown) {
    super(database);
    this.tenant = validateTenant(tenant);
    this.params.tenant = this.tenant;
  }

  from(source: ReadSource, conditions: readonly string[]): string {
    // Each condition parenthesised: nothing after the tenant predicate can widen it (no top-level OR).
    return `FROM ${this.table(source)} WHERE ${[TENANT_PREDICATE, ...conditions.map((c) => `(${c})`)].join(' AND ')}`;
  }
}

/** Every tenant's rows. Only for explicitly named admin reads. */
export class AdminQuery extends QueryBuilder {
  from(source: ReadSource, conditions: readonly string[]): string {
    // Parenthesised as in a tenant read: a condition with a top-level OR (a range of several spans) stays whole.
    const where = conditions.length === 0 ? '' : ` WHERE ${conditions.map((c) => `(${c})`).join(' AND ')}`;
    return `FROM ${this.table(source)}${where}`;
  }
}

export class UnscopedQueryError extends Error {
  readonly code = 'UNSCOPED_QUERY';
}

/**
 * Every `FROM` of the statement is either a subquery or a qualified table followed at once by the tenant
 * predicate, itself followed only by `AND (…)`, the end of the subquery or of the WHERE clause (`GROUP`, `ORDER`,
 * `UNION`, `LIMIT`, `SETTINGS`, or the end of the text — never `OR`);
 * and there is at least one table. Throws `UnscopedQueryError` otherwise.
 */
export function assertTenantScoped(sql: string): void {
  const froms = [...sql.matchAll(/\bFROM\s+/gi)];
  let tables = 0;
  for (const match of froms) {
    const rest = sql.slice((match.index ?? 0) + match[0].length);
    if (rest.startsWith('(')) continue;
    const scoped =
      /^`[^`]+`\.`[^`]+` WHERE TenantId = \{tenant:String\}(?:\s+AND\s+\(|\s*\)|\s+(?:GROUP|ORDER|UNION|LIMIT|SETTINGS)\b|\s*$)/.exec(
        rest,
      );
    if (scoped === null) {
      throw new UnscopedQueryError(`a read without the tenant predicate: ${rest.slice(0, 80)}`);
    }
    tables += 1;
  }
  if (tables === 0) throw new UnscopedQueryError('a read that names no table');
}
