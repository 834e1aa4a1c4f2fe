import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, classifyFailure } from '../src/retry-policy.ts';

const clickhouse = (type: string, code: string) =>
  new ClickHouseError({ message: `${type} happened`, code, type });
const nodeError = (code: string) => Object.assign(new Error(`${code} on 127.0.0.1`), { code });

describe('classifyFailure', () => {
  const managed = { createSchema: true };
  const unmanaged = { createSchema: false };
  const cases: Array<[string, unknown, { createSchema: boolean }, 'retryable' | 'permanent', string]> = [
    ['connection refused', nodeError('ECONNREFUSED'), managed, 'retryable', 'ECONNREFUSED'],
    ['connection reset', nodeError('ECONNRESET'), managed, 'retryable', 'ECONNRESET'],
    ['DNS hiccup', nodeError('EAI_AGAIN'), managed, 'retryable', 'EAI_AGAIN'],
    ['socket hang up', new Error('socket hang up'), managed, 'retryable', 'NETWORK'],
    ['client request timeout', new Error('Timeout error.'), managed, 'retryable', 'TIMEOUT'],
    [
      'chDB timeout',
      Object.assign(new Error('query timed out'), { code: 'CHDB_TIMEOUT' }),
      managed,
      'retryable',
      'CHDB_TIMEOUT',
    ],
    ['HTTP 503 status', Object.assign(new Error('x'), { statusCode: 503 }), managed, 'retryable', 'HTTP_503'],
    ['HTTP 502 status', Object.assign(new Error('x'), { status: 502 }), managed, 'retryable', 'HTTP_502'],
    ['HTTP 429 status', Object.assign(new Error('x'), { statusCode: 429 }), managed, 'retryable', 'HTTP_429'],
    ['HTTP 500 status', Object.assign(new Error('x'), { statusCode: 500 }), managed, 'retryable', 'HTTP_500'],
    ['HTTP 400 status', Object.assign(new Error('x'), { statusCode: 400 }), managed, 'permanent', 'HTTP_400'],
    ['HTTP 413 status', Object.assign(new Error('x'), { statusCode: 413 }), managed, 'permanent', 'HTTP_413'],
    [
      'HTTP 401 status (credentials can be fixed)',
      Object.assign(new Error('x'), { statusCode: 401 }),
      managed,
      'retryable',
      'HTTP_401',
    ],
    ['proxy 503 page', new Error('503 Service Unavailable'), managed, 'retryable', 'HTTP_503'],
    ['proxy 502 page', new Error('<html>Bad Gateway</html>'), managed, 'retryable', 'HTTP_502'],
    ['TOO_MANY_PARTS', clickhouse('TOO_MANY_PARTS', '252'), managed, 'retryable', 'TOO_MANY_PARTS'],
    ['TIMEOUT_EXCEEDED', clickhouse('TIMEOUT_EXCEEDED', '159'), managed, 'retryable', 'TIMEOUT_EXCEEDED'],
    [
      'MEMORY_LIMIT_EXCEEDED',
      clickhouse('MEMORY_LIMIT_EXCEEDED', '241'),
      managed,
      'retryable',
      'MEMORY_LIMIT_EXCEEDED',
    ],
    [
      'TOO_MANY_SIMULTANEOUS_QUERIES',
      clickhouse('TOO_MANY_SIMULTANEOUS_QUERIES', '202'),
      managed,
      'retryable',
      'TOO_MANY_SIMULTANEOUS_QUERIES',
    ],
    [
      'TABLE_IS_READ_ONLY',
      clickhouse('TABLE_IS_READ_ONLY', '242'),
      managed,
      'retryable',
      'TABLE_IS_READ_ONLY',
    ],
    ['KEEPER_EXCEPTION', clickhouse('KEEPER_EXCEPTION', '999'), managed, 'retryable', 'KEEPER_EXCEPTION'],
    [
      'UNKNOWN_STATUS_OF_INSERT',
      clickhouse('UNKNOWN_STATUS_OF_INSERT', '319'),
      managed,
      'retryable',
      'UNKNOWN_STATUS_OF_INSERT',
    ],
    ['SERVER_OVERLOADED', clickhouse('SERVER_OVERLOADED', '745'), managed, 'retryable', 'SERVER_OVERLOADED'],
    [
      'AUTHENTICATION_FAILED',
      clickhouse('AUTHENTICATION_FAILED', '516'),
      managed,
      'retryable',
      'AUTHENTICATION_FAILED',
    ],
    ['TYPE_MISMATCH', clickhouse('TYPE_MISMATCH', '53'), managed, 'permanent', 'TYPE_MISMATCH'],
    [
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      clickhouse('CANNOT_PARSE_INPUT_ASSERTION_FAILED', '27'),
      managed,
      'permanent',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
    ],
    ['CANNOT_PARSE_TEXT', clickhouse('CANNOT_PARSE_TEXT', '6'), managed, 'permanent', 'CANNOT_PARSE_TEXT'],
    [
      'CANNOT_PARSE_DATETIME',
      clickhouse('CANNOT_PARSE_DATETIME', '41'),
      managed,
      'permanent',
      'CANNOT_PARSE_DATETIME',
    ],
    ['INCORRECT_DATA', clickhouse('INCORRECT_DATA', '117'), managed, 'permanent', 'INCORRECT_DATA'],
    [
      'NO_SUCH_COLUMN_IN_TABLE',
      clickhouse('NO_SUCH_COLUMN_IN_TABLE', '16'),
      managed,
      'permanent',
      'NO_SUCH_COLUMN_IN_TABLE',
    ],
    ['SYNTAX_ERROR', clickhouse('SYNTAX_ERROR', '62'), managed, 'permanent', 'SYNTAX_ERROR'],
    [
      'UNKNOWN_TABLE with schema creation on',
      clickhouse('UNKNOWN_TABLE', '60'),
      managed,
      'retryable',
      'UNKNOWN_TABLE',
    ],
    [
      'UNKNOWN_TABLE with schema creation off',
      clickhouse('UNKNOWN_TABLE', '60'),
      unmanaged,
      'permanent',
      'UNKNOWN_TABLE',
    ],
    [
      'UNKNOWN_DATABASE with schema creation off',
      clickhouse('UNKNOWN_DATABASE', '81'),
      unmanaged,
      'permanent',
      'UNKNOWN_DATABASE',
    ],
    [
      'an unrecognised ClickHouse error',
      clickhouse('SOMETHING_NEW', '9999'),
      managed,
      'retryable',
      'SOMETHING_NEW',
    ],
    ['an unrecognised error', new Error('who knows'), managed, 'retryable', 'UNKNOWN'],
    ['a thrown string', 'boom', managed, 'retryable', 'UNKNOWN'],
    [
      'a wrapped network cause',
      new Error('insert failed', { cause: nodeError('ECONNRESET') }),
      managed,
      'retryable',
      'ECONNRESET',
    ],
  ];

  it.each(cases)('%s', (_name, error, context, kind, code) => {
    const result = classifyFailure(error, context);
    expect(result.kind).toBe(kind);
    expect(result.code).toBe(code);
  });
});

describe('backoffDelayMs (exponential, full jitter)', () => {
  const limits = { initialMs: 1000, maxMs: 30_000 };

  it('stays below the cap of each attempt, which doubles from the initial delay up to the max', () => {
    const nearlyOne = () => 0.999_999;
    expect(backoffDelayMs(1, limits, nearlyOne)).toBe(999);
    expect(backoffDelayMs(2, limits, nearlyOne)).toBe(1999);
    expect(backoffDelayMs(3, limits, nearlyOne)).toBe(3999);
    expect(backoffDelayMs(5, limits, nearlyOne)).toBe(15_999);
    expect(backoffDelayMs(6, limits, nearlyOne)).toBe(29_999);
    expect(backoffDelayMs(60, limits, nearlyOne)).toBe(29_999);
  });

  it('can be anywhere from zero (full jitter)', () => {
    expect(backoffDelayMs(4, limits, () => 0)).toBe(0);
    expect(backoffDelayMs(4, limits, () => 0.5)).toBe(4000);
  });
});
