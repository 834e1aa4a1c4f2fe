import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SchemaOptions } from '../src/index.ts';
import { schemaStatements } from '../src/schema/migrations.ts';
import { createMetricTableStatement, createSummaryTableStatement } from '../src/schema/table-ddl.ts';

const singleNode: SchemaOptions = {
  database: 'otel',
  cluster: undefined,
  replicationPath: '/clickhouse/tables/{shard}/{database}/{table}',
  replicaName: '{replica}',
  ttlDays: undefined,
  dedupWindow: 10_000,
};
const cluster: SchemaOptions = { ...singleNode, cluster: 'tallyhouse_cluster', ttlDays: 90 };

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
        /ENGINE = Replicated(Replacing|Aggregating)?MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'\)/,
      );
      expect(statement).not.toContain('non_replicated_deduplication_window');
    }
  });

  it('sorts every metric table by tenant first', () => {
    for (const table of [
      'otel_metrics_sum',
      'otel_metrics_gauge',
      'otel_metrics_histogram',
      'otel_metrics_exponential_histogram',
    ] as const) {
      expect(createMetricTableStatement(singleNode, table)).toMatch(/\nORDER BY \(TenantId, /);
    }
    expect(createSummaryTableStatement(singleNode)).toMatch(/\nORDER BY \(TenantId, /);
  });
});
