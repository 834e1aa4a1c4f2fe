import type {
  Attributes,
  InputBatch,
  InputMetric,
  InputPoint,
  InstrumentationScopeInfo,
} from '@tallyhouse/model';
import { isLatestValueKind, isValidTenant, tenantProblem } from '@tallyhouse/model';
import type { ResolvedAccumulatorOptions } from './config.ts';
import type { RejectionTally } from './consume-report.ts';
import { valueProblem } from './point-validation.ts';
import type { MetricPlace } from './series-buffer.ts';
import {
  gaugeSourceKey,
  keptResource,
  metricKey,
  seriesKey,
  sourceResource,
  sourceStreamPrefix,
} from './series-identity.ts';

/** Per-request tenant context, as the collector knows it from the request (header or API key). */
export interface RequestTenant {
  readonly tenant?: string;
  /**
   * Let a tenant attribute inside the payload override `tenant`; an invalid one is then rejected, not
   * replaced. Off unless the operator allows it.
   */
  readonly allowAttributeOverride?: boolean;
}

/** What the points of one input metric share; built once per metric, not per point. */
export interface MetricContext extends MetricPlace {
  /** Set for cumulative sums and histograms: the prefix of the source stream keys to convert against. */
  readonly streamPrefix: string | undefined;
}

export type PointVisitor = (context: MetricContext, tenant: string, point: InputPoint) => void;

type WalkOptions = Pick<
  ResolvedAccumulatorOptions,
  'tenantAttribute' | 'resourceTenantAttribute' | 'defaultTenant' | 'keepResourceAttributes'
>;

/**
 * Walks an input's points: resolves each point's tenant and checks its value, rejecting (and tallying) the
 * invalid ones, and hands each valid one on with its tenant and what its metric's points share.
 */
export class InputWalk {
  private readonly options: WalkOptions;
  private lastValidTenant: string | undefined;

  constructor(options: WalkOptions) {
    this.options = options;
  }

  validPoints(input: InputBatch, request: RequestTenant, rejections: RejectionTally, visit: PointVisitor) {
    for (const resourceMetrics of input.resourceMetrics) {
      const resources = new ResourceViews(resourceMetrics.resource, this.options.keepResourceAttributes);
      const resourceTenant = resourceMetrics.resource[this.options.resourceTenantAttribute];
      for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
        for (const input of metrics) {
          const context = metricContext(resources, resourceMetrics.schemaUrl ?? '', scope, input);
          const kind = input.metric.kind;
          for (const point of input.points) {
            const tenant = this.tenantOf(point.attributes, request, resourceTenant, input, rejections);
            if (tenant === undefined) continue;
            const problem = valueProblem(kind, point.value);
            if (problem !== undefined) {
              rejections.add(
                problem.reason,
                `${input.metric.name}: tenant ${JSON.stringify(tenant)} sent ${problem.detail}`,
              );
              continue;
            }
            visit(context, tenant, point);
          }
        }
      }
    }
  }

  /** Request tenant, then point attribute, then resource attribute, then the configured default. */
  private tenantOf(
    attributes: Attributes,
    request: RequestTenant,
    resourceTenant: unknown,
    input: InputMetric,
    rejections: RejectionTally,
  ): string | undefined {
    const fromAttribute = attributes[this.options.tenantAttribute];
    let candidate: unknown;
    if (request.tenant !== undefined && !(request.allowAttributeOverride && fromAttribute !== undefined)) {
      candidate = request.tenant;
    } else {
      candidate = fromAttribute ?? resourceTenant ?? this.options.defaultTenant;
    }
    if (candidate === undefined) {
      rejections.add(
        'missing_tenant',
        `${input.metric.name}: a data point carries no tenant (attribute ${JSON.stringify(this.options.tenantAttribute)})`,
      );
      return undefined;
    }
    // Points of one tenant usually come together: skip re-validating the tenant just seen.
    if (candidate === this.lastValidTenant) return this.lastValidTenant;
    if (isValidTenant(candidate)) {
      this.lastValidTenant = candidate;
      return candidate;
    }
    rejections.add('invalid_tenant', `${input.metric.name}: ${tenantProblem(candidate)}`);
    return undefined;
  }
}

/** The views of one input resource that its metrics need, each made once and only when needed. */
class ResourceViews {
  readonly full: Attributes;
  private readonly keep: readonly string[];
  private keptView: Attributes | undefined;
  private sourceView: Attributes | undefined;

  constructor(full: Attributes, keep: readonly string[]) {
    this.full = full;
    this.keep = keep;
  }

  /** What sums and histograms are identified and stored by: the kept attributes. */
  get kept(): Attributes {
    this.keptView ??= keptResource(this.full, this.keep);
    return this.keptView;
  }

  /** What gauges are identified and stored by: the whole source, bounded. */
  get source(): Attributes {
    this.sourceView ??= sourceResource(this.full);
    return this.sourceView;
  }
}

function metricContext(
  resources: ResourceViews,
  resourceSchemaUrl: string,
  scope: InstrumentationScopeInfo,
  input: InputMetric,
): MetricContext {
  // No slot is created here: only applying may change the buffer (replaying a log depends on the order).
  // Gauges and summaries are readings of their source: identified by it, never converted to deltas.
  const perSource = isLatestValueKind(input.metric.kind);
  const resource = perSource ? resources.source : resources.kept;
  const cumulative = input.temporality === 'cumulative' && !perSource;
  return {
    slotKey: perSource ? gaugeSourceKey(resource, scope, input.metric) : metricKey(resource, input.metric),
    metric: input.metric,
    resource,
    scope,
    resourceSchemaUrl,
    description: input.metric.description,
    streamPrefix: cumulative ? sourceStreamPrefix(resources.full, scope, input.metric) : undefined,
    lastGroup: undefined,
  };
}

/** The key of a cumulative point's source stream; `undefined` for delta metrics, gauges and summaries. */
export function streamKeyOf(
  context: MetricContext,
  tenant: string,
  point: InputPoint,
  tenantAttribute: string,
): string | undefined {
  return context.streamPrefix === undefined
    ? undefined
    : context.streamPrefix + JSON.stringify(tenant) + seriesKeyOf(context, point, tenantAttribute);
}

/** The series' identity as text (see series-identity.ts); the buffer itself finds series without it. */
export function seriesKeyOf(context: MetricContext, point: InputPoint, tenantAttribute: string): string {
  return seriesKey(point.attributes, tenantAttribute, context.metric.kind, point.value);
}

export function pointCount(input: InputBatch): number {
  let points = 0;
  for (const resourceMetrics of input.resourceMetrics) {
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      for (const metric of scopeMetrics.metrics) points += metric.points.length;
    }
  }
  return points;
}
