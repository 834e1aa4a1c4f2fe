/** The state of decoding one OTLP/JSON request: what was counted, and caches. */
import { type DecodeTally, RejectionLog } from '../decode-result.ts';

/** The last time text parsed and its value: points of one export usually repeat their times. */
export interface TimeCache {
  text: string;
  value: bigint;
}

export class JsonDecoder implements DecodeTally {
  readonly log = new RejectionLog();
  readonly exemplarLog = new RejectionLog();
  accepted = 0;
  noRecordedValue = 0;
  readonly startTimes: TimeCache = { text: '', value: 0n };
  readonly times: TimeCache = { text: '', value: 0n };
}
