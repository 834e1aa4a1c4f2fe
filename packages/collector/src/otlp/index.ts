/** OTLP/HTTP metrics: request decoding (protobuf, JSON) and response encoding. */
export {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestJsonBody,
} from './decode-json.ts';
export { decodeExportMetricsServiceRequestProtobuf } from './decode-protobuf.ts';
export {
  formatPartialSuccessMessage,
  MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH,
  MAX_REJECTION_MESSAGES,
  type OtlpDecodeResult,
} from './decode-result.ts';
export {
  type ExportMetricsResponseContent,
  encodeExportMetricsServiceResponse,
  encodeRpcStatus,
  type OtlpEncoding,
  RpcCode,
  type RpcStatusContent,
} from './encode-response.ts';
export { MAX_ANY_VALUE_DEPTH, OtlpDecodeError, type OtlpDecodeErrorCode } from './errors.ts';
