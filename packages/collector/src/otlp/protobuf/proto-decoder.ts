/** The state of decoding one protobuf request: the reader, what was counted, and scratch values. */
import type { AttributeValue } from '@tallyhouse/model';
import { type DecodeTally, RejectionLog } from '../decode-result.ts';
import { WireReader } from './wire-reader.ts';

export class ProtoDecoder extends WireReader implements DecodeTally {
  readonly log = new RejectionLog();
  readonly exemplarLog = new RejectionLog();
  accepted = 0;
  noRecordedValue = 0;
  // Scratch output of decodeKeyValue, to avoid allocating a pair per attribute.
  key = '';
  value: AttributeValue = null;
}
