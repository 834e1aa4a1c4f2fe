import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
} from '../../src/otlp/index.ts';
import { batch, pointCount } from './arbitraries.ts';
import { encodeRequestProtobuf, requestJson } from './otlp-encoder.ts';

describe('decode(encode(batch)) equals batch for random metric sets', () => {
  it('in protobuf, packed or unpacked, with or without unknown fields, as asDouble or asInt', () => {
    fc.assert(
      fc.property(batch, fc.boolean(), fc.boolean(), fc.boolean(), (b, packed, unknownFields, intValues) => {
        const result = decodeExportMetricsServiceRequestProtobuf(
          encodeRequestProtobuf(b, { packed, unknownFields, intValues }),
        );
        expect(result.rejectionMessages).toEqual([]);
        expect(result.batch).toEqual(b);
        expect(result.acceptedDataPoints).toBe(pointCount(b));
      }),
      { numRuns: 300 },
    );
  });

  it('in JSON, with camelCase or snake_case names, 64-bit integers as strings or numbers, enums as codes or names', () => {
    fc.assert(
      fc.property(
        batch,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (b, snakeCase, numbersFor64Bit, enumNames, unknownFields) => {
          const result = decodeExportMetricsServiceRequestJson(
            requestJson(b, { snakeCase, numbersFor64Bit, enumNames, unknownFields }),
          );
          expect(result.rejectionMessages).toEqual([]);
          expect(result.batch).toEqual(b);
        },
      ),
      { numRuns: 300 },
    );
  });
});
