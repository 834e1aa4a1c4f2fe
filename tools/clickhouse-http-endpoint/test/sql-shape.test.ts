import { describe, expect, it } from 'vitest';
import { isReadOnly, sqlShape } from '../src/sql-shape.ts';

describe('sqlShape: what the endpoint reads from a statement', () => {
  it('names the first keyword, the placeholders and the format', () => {
    const shape = sqlShape(
      "-- a comment\n/* block */ SELECT {tenant:String}, '{not:Placeholder}', `{nor:This}` FROM t WHERE x = { n : UInt64 } FORMAT JSONEachRow",
    );
    expect(shape).toMatchObject({
      firstKeyword: 'SELECT',
      placeholders: ['tenant', 'n'],
      format: 'JSONEachRow',
      multipleStatements: false,
      dataStart: undefined,
    });
    expect(isReadOnly(shape)).toBe(true);
  });

  it('finds a second statement, but not a semicolon in a literal, a comment or the data of an insert', () => {
    expect(sqlShape('SELECT 1; SELECT 2').multipleStatements).toBe(true);
    expect(sqlShape('SELECT 1;  \n -- trailing\n').multipleStatements).toBe(false);
    expect(sqlShape('SELECT \'a;b\', "c;d" /* ; */').multipleStatements).toBe(false);
    expect(sqlShape("SELECT 'it\\'s;', 'x'';y'").multipleStatements).toBe(false);
    const insert = 'INSERT INTO t (a) FORMAT JSONEachRow\n{"a":";DROP TABLE t"}\n';
    expect(sqlShape(insert)).toMatchObject({
      firstKeyword: 'INSERT',
      multipleStatements: false,
      format: 'JSONEachRow',
    });
    expect(insert.slice(sqlShape(insert).dataStart)).toBe('\n{"a":";DROP TABLE t"}\n');
    expect(sqlShape("INSERT INTO t VALUES ('a;'); ").multipleStatements).toBe(false);
  });

  it('tells reads from writes', () => {
    expect(isReadOnly(sqlShape('WITH 1 AS x SELECT x'))).toBe(true);
    expect(isReadOnly(sqlShape('insert into t values (1)'))).toBe(false);
    expect(isReadOnly(sqlShape('CREATE TABLE t (a UInt8) ENGINE = Memory'))).toBe(false);
    expect(sqlShape('   ').firstKeyword).toBe('');
  });
});
