export { ClickHouseError, statusOf } from './clickhouse-errors.ts';
export { ClickHouseHttpEndpoint, type EndpointOptions } from './endpoint.ts';
export { EndpointProcess, type EndpointProcessOptions, type EndpointStats } from './endpoint-process.ts';
export { Engine } from './engine.ts';
export type { Fault, FaultSetting } from './faults.ts';
export { testStoreEnv } from './http-store-env.ts';
export { type SqlShape, sqlShape } from './sql-shape.ts';
