/**
 * The port through which several processes that share one store agree on cumulative streams (the processor
 * resolves against it, the ClickHouse exporter keeps it in a table).
 */
import type { PointValue } from './series.ts';

/** What one process recorded about one stream in shared storage. */
export interface StreamMark {
  /** The stream key (tenant, resource, scope, metric, attributes): identical in every process. */
  readonly key: string;
  readonly tenant: string;
  /** The process that wrote it (`StreamMarks.owner`). */
  readonly owner: string;
  /** `counted`: the owner counted the stream through this point. `claim`: it is resolving the stream at it. */
  readonly kind: 'counted' | 'claim';
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValue;
}

/** Where marks are kept (the ClickHouse exporter implements it with a table). */
export interface StreamMarks {
  /** This process's identity, stable across its restarts with the same data directory. */
  readonly owner: string;
  /** Durably records marks; resolves once a read by any process would return them. */
  write(marks: readonly StreamMark[]): Promise<void>;
  /** The latest mark per owner and kind of each stream given. */
  read(streams: readonly { readonly key: string; readonly tenant: string }[]): Promise<StreamMark[]>;
  /**
   * Marks other owners wrote for `tenants` since the previous call (the first call: since the process started).
   * Under tenant affinity this is empty except when tenants move, so it is cheap to ask every flush.
   */
  foreignSince(tenants: readonly string[]): Promise<StreamMark[]>;
}
