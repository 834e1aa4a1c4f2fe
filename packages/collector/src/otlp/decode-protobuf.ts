/**
 * OTLP/HTTP binary protobuf → `InputBatch`: `ExportMetricsServiceRequest`
 * (opentelemetry/proto/collector/metrics/v1) with metrics/v1, common/v1 and resource/v1 messages.
 *
 * Hand-written over `protobuf/wire-reader.ts` for speed (no intermediate OTLP object tree: points go straight
 * into the internal representation). Unknown fields are skipped by wire type; repeated scalars are accepted
 * packed and unpacked; for a oneof the last field wins, as protobuf specifies.
 *
 * A singular message field that occurs more than once is merged, as protobuf specifies (the parse of
 * concatenated messages): its repeated fields add up and its scalars are overwritten only by values present
 * in a later occurrence. A later occurrence of another member of the same oneof clears the earlier one.
 */
import { decodeResult, type OtlpDecodeResult } from './decode-result.ts';
import { toOtlpDecodeError } from './errors.ts';
import { decodeRequest } from './protobuf/metrics.ts';
import { ProtoDecoder } from './protobuf/proto-decoder.ts';

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` in binary protobuf encoding.
 * @throws OtlpDecodeError when the body is not a well-formed request (answer 400).
 */
export function decodeExportMetricsServiceRequestProtobuf(bytes: Uint8Array): OtlpDecodeResult {
  const d = new ProtoDecoder(bytes);
  try {
    return decodeResult(decodeRequest(d, bytes.length), d);
  } catch (thrown) {
    throw toOtlpDecodeError(thrown);
  }
}
