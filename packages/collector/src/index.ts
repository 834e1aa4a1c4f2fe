export * from './auth.ts';
export * from './collector.ts';
export * from './config.ts';
export * from './metrics.ts';
export * from './otlp/index.ts';
