// The public surface: the stage, tenant stamping inside an app, settings, the durable-intake API and errors.
// Everything else (accumulator parts, merge math, identity) is internal; the shared representation is
// `@tallyhouse/model`'s.
export {
  type AccumulatorOptions,
  type FlushOptions,
  type ResolvedAccumulatorOptions,
  type ResolvedFlushOptions,
  resolveAccumulatorOptions,
  resolveFlushOptions,
} from './config.ts';
export type { ConsumeReport, RejectionReason } from './consume-report.ts';
export { BufferFullError, ProcessorShutdownError } from './errors.ts';
export type { BatchFailure, FlushLog } from './flush-log.ts';
export type { FlushReport, ReplayedFlush } from './flusher.ts';
export type { RequestTenant } from './input-walk.ts';
export {
  magnitude,
  type PendingFirstInterval,
  type Resolution,
  resolveFirstIntervals,
  type StreamMark,
  type StreamMarks,
} from './stream-marks.ts';
export type { StreamSnapshotEntry } from './stream-store.ts';
export {
  contextWithTenant,
  createTenantAttributesProcessor,
  type TenantSource,
  type TenantStampOptions,
  tenantFromContext,
  tenantView,
  withTenant,
} from './tenant-context.ts';
export {
  FlushFailedError,
  type ProcessorStats,
  TenantProcessor,
  type TenantProcessorOptions,
} from './tenant-processor.ts';
