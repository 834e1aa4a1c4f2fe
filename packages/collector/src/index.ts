export * from './auth.ts';
export * from './collector.ts';
export * from './config.ts';
export * from './metrics.ts';
export * from './otlp/index.ts';
export * from './wal/durable-ingest.ts';
export * from './wal/wal.ts';
