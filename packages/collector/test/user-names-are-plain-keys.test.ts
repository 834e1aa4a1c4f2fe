/**
 * Names that come from users (tenants, attribute keys, enum names in a payload, attribute names in settings) are
 * never looked up in, or assigned to, a plain object where `__proto__`, `constructor` or `toString` would mean
 * something else: a `__proto__` attribute reaches storage, an enum name `constructor` is an unknown value, a kept
 * resource attribute named `toString` is absent when the resource does not carry it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attributeMap } from '../../exporter-clickhouse/src/row-encoding.ts';
import type { Collector } from '../src/collector.ts';
import { decodeExportMetricsServiceRequestJson } from '../src/otlp/decode-json.ts';
import { postMetrics } from './support/http-client.ts';
import { startCollector, storedPoints } from './support/in-process.ts';
import { tempDir } from './support/temp-dirs.ts';

const NOW_NS = String(BigInt(Date.now()) * 1_000_000n);

/** A sum point whose attributes are given as an OTLP list, so a key may be any string. */
function sumRequest(attributes: object[], temporality: unknown = 1) {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'requests',
                sum: {
                  aggregationTemporality: temporality,
                  isMonotonic: true,
                  dataPoints: [{ asInt: '3', startTimeUnixNano: NOW_NS, timeUnixNano: NOW_NS, attributes }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('user-given names are ordinary keys', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'refuses aggregationTemporality %j as an unknown enum value, as any unknown name',
    (name) => {
      const decode = (value: string) => () =>
        decodeExportMetricsServiceRequestJson(JSON.stringify(sumRequest([], value)));
      expect(decode('NO_SUCH_TEMPORALITY')).toThrow(
        'aggregationTemporality: unknown enum value "NO_SUCH_TEMPORALITY"',
      );
      expect(decode(name)).toThrow(`aggregationTemporality: unknown enum value "${name}"`);
    },
  );

  it('keeps an attribute named __proto__ in the stored attribute map, also beside a non-string value', () => {
    const attributes = Object.fromEntries([
      ['__proto__', 'p'],
      ['count', 3],
    ]);
    expect(JSON.parse(attributeMap(attributes, undefined))).toEqual(
      Object.fromEntries([
        ['__proto__', 'p'],
        ['count', '3'],
      ]),
    );
    expect(attributeMap(attributes, 'count')).toBe('{"__proto__":"p"}');
  });
});

describe('over a real socket, into chDB', () => {
  let collector: Collector;
  let port: number;

  beforeAll(async () => {
    ({ collector, port } = await startCollector(join(tempDir('user-names'), 'data'), {
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
    }));
  });

  afterAll(async () => {
    await collector?.stop();
  });

  it('stores a point with a __proto__ attribute (next to an integer one) under tenant __proto__, attribute kept', async () => {
    const request = sumRequest([
      { key: '__proto__', value: { stringValue: 'p' } },
      { key: 'shard', value: { intValue: '7' } },
    ]);
    const answer = await postMetrics(port, Buffer.from(JSON.stringify(request)), 'json', {
      'x-tenant-id': '__proto__',
    });
    expect(answer.status).toBe(200);
    const stored = await storedPoints(collector, '__proto__');
    expect(stored).toHaveLength(1);
    expect(Object.keys(stored[0]!.attributes).sort()).toEqual(['__proto__', 'shard']);
    expect(Object.hasOwn(stored[0]!.attributes, '__proto__')).toBe(true);
  });
});
