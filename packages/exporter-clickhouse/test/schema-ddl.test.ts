import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SchemaOptions } from '../src/index.ts';
import { schemaStatements } from '../src/schema/migrations.ts';
import { createMetricTableStatements, createSummaryTableStatements } from '../src/schema/table-ddl.ts';

const singleNode: SchemaOptions = {
  database: 'otel',
  cluster: undefined,
  replicationPath: '/clickhouse/tables/{shard}/{database}/{table}',
  replicaName: '{replica}',
  ttlDays: undefined,
  dedupWindow: 10_000,
};
const cluster: SchemaOptions = { ...singleNode, cluster: 'tallyhouse_cluster', ttlDays: 90 };
const sharded: SchemaOptions = { ...cluster, sharded: true };

const golden = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8');
const script = (options: SchemaOptions) => `${schemaStatements(options).join(';\n\n')};\n`;

describe('schema DDL goldens', () => {
  it('single node: MergeTree with non_replicated_deduplication_window, no ON CLUSTER', () => {
    expect(script(singleNode)).toBe(golden('schema-single-node.sql'));
  });

  it('cluster: every statement ON CLUSTER, Replicated engines with Keeper path and replica macros, TTL', () => {
    expect(script(cluster)).toBe(golden('schema-cluster.sql'));
  });

  it('every CREATE of the cluster script targets the cluster and a replicated engine', () => {
    const statements = schemaStatements(cluster);
    for (const statement of statements) expect(statement).toContain('ON CLUSTER `tallyhouse_cluster`');
    for (const statement of statements.filter((s) => s.startsWith('CREATE TABLE'))) {
      expect(statement).toMatch(
        /ENGINE = Replicated(Replacing|Aggregating)?MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'(, \w+)?\)/,
      );
      expect(statement).not.toContain('non_replicated_deduplication_window');
    }
  });

  it('sharded: replicated <name>_local tables on every node, Distributed tables by tenant under the names', () => {
    expect(script(sharded)).toBe(golden('schema-sharded.sql'));
  });

  it('in the sharded script, rows live in local tables and everything else reads and writes through Distributed', () => {
    const statements = schemaStatements(sharded);
    for (const statement of statements) expect(statement).toContain('ON CLUSTER `tallyhouse_cluster`');
    const created = statements.filter((s) => s.startsWith('CREATE TABLE'));
    const distributed = created.filter((s) => s.includes('ENGINE = Distributed('));
    // Every table is a pair: the local one and the Distributed one over it.
    expect(distributed.length * 2).toBe(created.length);
    for (const statement of distributed) {
      const [, name] = /CREATE TABLE IF NOT EXISTS `otel`\.`(\w+)`/.exec(statement)!;
      expect(name).not.toMatch(/_local$/);
      expect(statement).toContain(`AS \`otel\`.\`${name}_local\``);
      expect(statement).toMatch(
        name === 'tallyhouse_schema_versions'
          ? /Distributed\('tallyhouse_cluster', 'otel', '\w+_local', Version\)$/
          : /Distributed\('tallyhouse_cluster', 'otel', '\w+_local', cityHash64\(TenantId\)\)$/,
      );
    }
    // Views read the local raw table and write the local rollup of their own shard.
    for (const view of statements.filter((s) => s.startsWith('CREATE MATERIALIZED VIEW'))) {
      expect(view).toMatch(/\nTO `otel`\.`tallyhouse_usage_\w+_local`\n/);
      expect(view).toMatch(/\nFROM `otel`\.`otel_metrics_\w+_local`\n/);
    }
    // Indexes live with the rows: never on a Distributed table.
    for (const alter of statements.filter((s) => s.includes('ADD INDEX')))
      expect(alter).toMatch(/_local` ON CLUSTER/);
  });

  it('sorts every metric table by tenant first', () => {
    for (const table of [
      'otel_metrics_sum',
      'otel_metrics_gauge',
      'otel_metrics_histogram',
      'otel_metrics_exponential_histogram',
    ] as const) {
      expect(createMetricTableStatements(singleNode, table)[0]).toMatch(/\nORDER BY \(TenantId, /);
    }
    expect(createSummaryTableStatements(singleNode)[0]).toMatch(/\nORDER BY \(TenantId, /);
  });
});
