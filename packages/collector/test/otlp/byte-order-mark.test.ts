/**
 * U+FEFF is a character like any other inside names, values and tenants; only a BOM opening a JSON document is a
 * marker (RFC 8259 lets a parser skip it). The fuzzer found a decoder that dropped it from the start of protobuf
 * strings (two distinct names became one) and a replay that refused a JSON body the live intake had accepted.
 */
import { describe, expect, it } from 'vitest';
import { HeaderAuthenticator } from '../../src/auth.ts';
import {
  decodeExportMetricsServiceRequestJsonBody,
  decodeExportMetricsServiceRequestProtobuf,
} from '../../src/otlp/index.ts';
import { decodeData, encodeData } from '../../src/wal/records.ts';
import { encodeRequest, type OtlpRequest } from '../support.ts';

const BOM = '\uFEFF';

function request(attributeValue: string, metricName: string): OtlpRequest {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: `${BOM}svc` } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: metricName,
                gauge: {
                  dataPoints: [
                    {
                      attributes: [{ key: `${BOM}k`, value: { stringValue: attributeValue } }],
                      timeUnixNano: '1700000000000000000',
                      asDouble: 1,
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

function firstMetric(decoded: ReturnType<typeof decodeExportMetricsServiceRequestProtobuf>) {
  const resource = decoded.batch.resourceMetrics[0]!;
  const metric = resource.scopeMetrics[0]!.metrics[0]!;
  return { resource: resource.resource, name: metric.metric.name, attributes: metric.points[0]!.attributes };
}

describe('a leading U+FEFF', () => {
  it('stays part of protobuf strings (names, keys, values) instead of being dropped', () => {
    const decoded = decodeExportMetricsServiceRequestProtobuf(
      encodeRequest(request(`${BOM}v`, `${BOM}m`), 'protobuf'),
    );
    expect(firstMetric(decoded)).toEqual({
      resource: { 'service.name': `${BOM}svc` },
      name: `${BOM}m`,
      attributes: { [`${BOM}k`]: `${BOM}v` },
    });
  });

  it('opening a JSON body is skipped, and strings inside keep theirs — the same for intake and replay', () => {
    const body = Buffer.concat([
      Buffer.from(BOM, 'utf8'),
      encodeRequest(request(`${BOM}v`, `${BOM}m`), 'json'),
    ]);
    expect(firstMetric(decodeExportMetricsServiceRequestJsonBody(body))).toEqual({
      resource: { 'service.name': `${BOM}svc` },
      name: `${BOM}m`,
      attributes: { [`${BOM}k`]: `${BOM}v` },
    });
  });

  it('of a tenant header sent as UTF-8 bytes is part of the tenant, and survives the write-ahead log record', () => {
    const asNodeReadsIt = Buffer.from(`${BOM}acme`, 'utf8').toString('latin1');
    expect(new HeaderAuthenticator('x-tenant-id').resolve({ 'x-tenant-id': [asNodeReadsIt] })).toEqual({
      ok: true,
      tenant: `${BOM}acme`,
    });
    const record = encodeData(
      { tenant: `${BOM}acme`, encoding: 'json', allowAttributeOverride: false, body: Buffer.from('{}') },
      1,
    );
    expect(decodeData(record).tenant).toBe(`${BOM}acme`);
  });
});
