/** The state of decoding one protobuf request: the reader, what was counted, and scratch values. */
import type { AttributeValue } from '@tallyhouse/model';
import { EMPTY_ATTRIBUTES } from '../attribute-building.ts';
import { type DecodeTally, RejectionLog } from '../decode-result.ts';
import type { DistributionFields, PointFrame } from '../point-acceptance.ts';
import { WireReader } from './wire-reader.ts';

/** Attributes gathered over the occurrences of an `attributes` field; `attributeCount` numbers them for paths. */
export interface AttributeSink {
  attributes: Record<string, AttributeValue> | undefined;
  attributeCount: number;
}

/**
 * The fields several data-point kinds share (read by `readSharedPointField`) of the point being read. Points
 * never nest, so one per request suffices; it spares an object per point and field.
 */
export class SharedPointValues implements AttributeSink, DistributionFields {
  attributes: Record<string, AttributeValue> | undefined = undefined;
  attributeCount = 0;
  start = 0n;
  time = 0n;
  flags = 0;
  // Histogram kinds only.
  count = 0;
  sum: number | undefined = undefined;
  min: number | undefined = undefined;
  max: number | undefined = undefined;

  /** Back to the defaults OTLP gives absent fields, for the next point. */
  reset(): this {
    this.attributes = undefined;
    this.attributeCount = 0;
    this.start = 0n;
    this.time = 0n;
    this.flags = 0;
    this.count = 0;
    this.sum = undefined;
    this.min = undefined;
    this.max = undefined;
    return this;
  }

  frame(): PointFrame {
    return {
      attributes: this.attributes ?? EMPTY_ATTRIBUTES,
      start: this.start,
      time: this.time,
      flags: this.flags,
    };
  }
}

export class ProtoDecoder extends WireReader implements DecodeTally {
  readonly log = new RejectionLog();
  accepted = 0;
  noRecordedValue = 0;
  // Scratch output of decodeKeyValue, to avoid allocating a pair per attribute.
  key = '';
  value: AttributeValue = null;
  readonly point = new SharedPointValues();
}
