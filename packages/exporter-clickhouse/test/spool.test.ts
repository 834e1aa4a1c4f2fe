/**
 * The spool's files: a part loads back as it was written (its rows replayed end to end in
 * `faults.chdb.test.ts`), and a record naming a row layout its table never had is moved aside, not replayed.
 */
import { readdirSync } from 'node:fs';
import { silentLogger } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../src/row-encoding.ts';
import { Spool } from '../src/spool.ts';
import { createTablePart, type TablePart } from '../src/table-part.ts';
import { summaryPoint, tempDir } from './support.ts';

function summaryPart(): TablePart {
  const points = [
    summaryPoint({ sum: Number.NaN }),
    summaryPoint({ quantileValues: [] }, { tenant: 'other', name: 'test.summary.empty' }),
  ];
  const [rows] = encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables;
  if (rows === undefined) throw new Error('nothing encoded');
  return createTablePart('b-spool-summary', rows.table, rows, rows.tenants, rows.points);
}

describe('spool files', () => {
  it('loads a summary part as it was written: table, layout, token, rows, tenants, attempts', () => {
    const spool = new Spool(tempDir('spool-summary'), silentLogger);
    const part = summaryPart();
    part.attempts = 2;
    spool.write(part);
    const [loaded, ...more] = spool.load();
    expect(more).toEqual([]);
    expect(loaded).toEqual({ ...part, points: undefined });
    expect(loaded?.layout).toBe(2);
  });

  it('moves aside a summary part in row layout 1, which no exporter ever wrote', () => {
    const spool = new Spool(tempDir('spool-summary-layout-1'), silentLogger);
    spool.write({ ...summaryPart(), layout: 1 });
    expect(spool.load()).toEqual([]);
    expect(readdirSync(spool.directory).filter((name) => name.endsWith('.json.corrupt'))).toHaveLength(1);
  });
});
