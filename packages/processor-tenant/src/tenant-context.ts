import { type Attributes, type Context, context, createContextKey, propagation } from '@opentelemetry/api';
import type { IAttributesProcessor, ViewOptions } from '@opentelemetry/sdk-metrics';
import { DEFAULT_TENANT_ATTRIBUTE, validateTenant } from '@tallyhouse/model';

// In-app tenant stamping: a View attributes processor that reads the tenant from the context active
// at record time and writes it as the tenant attribute of the measurement.

const TENANT_KEY = createContextKey('tallyhouse.tenant');

/** Returns `ctx` with `tenant` set; validates the tenant so mistakes surface where they are made. */
export function contextWithTenant(ctx: Context, tenant: string): Context {
  return ctx.setValue(TENANT_KEY, validateTenant(tenant));
}

/** Runs `fn` with `tenant` in the active context: every synchronous measurement inside is stamped. */
export function withTenant<T>(tenant: string, fn: () => T): T {
  return context.with(contextWithTenant(context.active(), tenant), fn);
}

export function tenantFromContext(ctx: Context): string | undefined {
  return ctx.getValue(TENANT_KEY) as string | undefined;
}

/** Where the tenant of a measurement comes from; the first source that yields one wins. */
export type TenantSource =
  | { readonly kind: 'static'; readonly tenant: string }
  | { readonly kind: 'context' }
  | { readonly kind: 'baggage'; readonly key: string }
  | {
      readonly kind: 'function';
      readonly resolve: (ctx: Context | undefined, attributes: Attributes) => string | undefined;
    };

export interface TenantStampOptions {
  /** Default: the `withTenant` context key, then the baggage entry `tenant.id`. */
  readonly sources?: readonly TenantSource[];
  /** Attribute to write. Default `tenant.id`. */
  readonly attribute?: string;
}

type Resolver = (ctx: Context | undefined, attributes: Attributes) => string | undefined;

function resolverOf(source: TenantSource): Resolver {
  switch (source.kind) {
    case 'static': {
      const tenant = validateTenant(source.tenant);
      return () => tenant;
    }
    case 'context':
      return (ctx) => (ctx === undefined ? undefined : (ctx.getValue(TENANT_KEY) as string | undefined));
    case 'baggage':
      return (ctx) =>
        ctx === undefined ? undefined : propagation.getBaggage(ctx)?.getEntry(source.key)?.value;
    case 'function':
      return source.resolve;
  }
}

function firstOf(resolvers: readonly Resolver[]): Resolver {
  if (resolvers.length === 1) return resolvers[0]!;
  return (ctx, attributes) => {
    for (const resolve of resolvers) {
      const tenant = resolve(ctx, attributes);
      if (tenant !== undefined) return tenant;
    }
    return undefined;
  };
}

/**
 * An sdk-metrics `IAttributesProcessor` that stamps the tenant on each measurement. A measurement that
 * already carries the attribute keeps it; one without a tenant (e.g. from an asynchronous instrument,
 * which has no context) stays unstamped and is resolved at export (resource attribute or default tenant)
 * or rejected and counted there. An invalid tenant is stamped as-is so the export step can reject and
 * count it instead of misattributing usage.
 */
export function createTenantAttributesProcessor(options: TenantStampOptions = {}): IAttributesProcessor {
  const attribute = options.attribute ?? DEFAULT_TENANT_ATTRIBUTE;
  const sources = options.sources ?? [
    { kind: 'context' },
    { kind: 'baggage', key: DEFAULT_TENANT_ATTRIBUTE },
  ];
  const resolve = firstOf(sources.map(resolverOf));
  return {
    process(incoming, ctx) {
      if (incoming[attribute] !== undefined) return incoming;
      const tenant = resolve(ctx, incoming);
      if (tenant === undefined) return incoming;
      // A spread clones the incoming object's layout in one step (V8's fast path for object literals).
      return { ...incoming, [attribute]: tenant };
    },
  };
}

/**
 * A View that stamps the tenant on every instrument: `new MeterProvider({ views: [tenantView()] })`.
 * Narrow it with `instrumentName`/`meterName`; with other views on the same instruments, add
 * `createTenantAttributesProcessor()` to their `attributesProcessors` instead (matching views each make a stream).
 */
export function tenantView(
  options: TenantStampOptions & Omit<ViewOptions, 'attributesProcessors'> = {},
): ViewOptions {
  const { sources, attribute, ...view } = options;
  const stamp = createTenantAttributesProcessor({ sources, attribute } as TenantStampOptions);
  return { instrumentName: '*', ...view, attributesProcessors: [stamp] };
}
