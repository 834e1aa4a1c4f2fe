export * from './accumulator.ts';
export {
  canonicalAttributes,
  canonicalJson,
  canonicalValue,
  encodeAttributes,
  encodeValue,
} from './canonical-attributes.ts';
export * from './config.ts';
export * from './cumulative-to-delta.ts';
export * from './errors.ts';
export * from './merge/index.ts';
export * from './model.ts';
export * from './point-validation.ts';
export * from './sdk-adapter.ts';
export * from './series-identity.ts';
export * from './series-normalizer.ts';
export * from './series-table.ts';
export * from './tenant.ts';
export * from './tenant-context.ts';
export * from './tenant-processor.ts';
