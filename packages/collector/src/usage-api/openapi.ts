/**
 * The usage API's contract: an OpenAPI 3.1.0 document (schemas in JSON Schema 2020-12), served at
 * `GET /v1/openapi.json` without credentials. Tests check every usage answer against it
 * (`test/support/openapi-check.ts`), so what it says is what the code does.
 *
 * Built from named parts so that a route is a few lines: shared schemas (`SCHEMAS`), parameters (`PARAMETERS`),
 * error answers (`RESPONSES`), the echo of a read's selection (`selectionProperties`), `tenantRead`, which
 * gives a tenant view its path parameter, credentials and error answers, and `adminRead`, the same for the admin
 * key's reads over every tenant. Enumerations and bounds come from the
 * code that enforces them (`usage-query.ts`, the exporter), so they cannot drift apart.
 */
import type { ServerResponse } from 'node:http';
import { GAUGE_COMBINES } from '@tallyhouse/exporter-clickhouse';
import { MAX_TENANT_LENGTH } from '@tallyhouse/model';
import {
  ADMIN_PREFIX,
  DEFAULT_TOP_LIMIT,
  EXPORT_FORMATS,
  MAX_BUCKETS,
  MAX_EXPORT_GROUPS,
  MAX_EXPORT_METRICS,
  MAX_TOP_LIMIT,
  STEPS,
  USAGE_PREFIX,
} from './usage-query.ts';

/** Where the document is served. */
export const OPENAPI_DOCUMENT_PATH = '/v1/openapi.json';

// ---- the OpenAPI 3.1 objects this document uses (a subset of the specification, typed) ----

/** A JSON Schema 2020-12 schema, as OpenAPI 3.1 embeds it. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };
/** A `$ref` (a type, not an interface: it is a JSON Schema too). */
export type Reference = {
  readonly $ref: string;
  readonly description?: string;
};
export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly description: string;
  readonly required?: boolean;
  readonly style?: 'simple' | 'form';
  readonly explode?: boolean;
  readonly schema: JsonSchema;
}
export interface HeaderObject {
  readonly description: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}
export interface MediaTypeObject {
  readonly schema: JsonSchema;
}
export interface ResponseObject {
  readonly description: string;
  readonly headers?: Readonly<Record<string, HeaderObject | Reference>>;
  readonly content?: Readonly<Record<string, MediaTypeObject>>;
}
/** Scheme name → scopes (none here). An empty object means no credentials. */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;
export interface OperationObject {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly parameters?: readonly (ParameterObject | Reference)[];
  readonly security?: readonly SecurityRequirement[];
  /** Status code (`200`, `4XX`) or `default` → the answer. */
  readonly responses: Readonly<Record<string, ResponseObject | Reference>>;
}
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type PathItemObject = { readonly summary?: string; readonly description?: string } & {
  readonly [method in HttpMethod]?: OperationObject;
};
export interface SecuritySchemeObject {
  readonly type: 'http' | 'apiKey';
  readonly description: string;
  readonly scheme?: string;
  readonly name?: string;
  readonly in?: 'header' | 'query' | 'cookie';
}
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly jsonSchemaDialect: string;
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly servers: readonly { readonly url: string; readonly description: string }[];
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  readonly security: readonly SecurityRequirement[];
  readonly paths: Readonly<Record<string, PathItemObject>>;
  readonly components: {
    readonly schemas: Readonly<Record<SchemaName, JsonSchema>>;
    readonly parameters: Readonly<Record<ParameterName, ParameterObject>>;
    readonly responses: Readonly<Record<ResponseName, ResponseObject>>;
    readonly headers: Readonly<Record<HeaderName, HeaderObject>>;
    readonly securitySchemes: Readonly<Record<SecuritySchemeName, SecuritySchemeObject>>;
  };
}

// ---- component names: a reference to a component that does not exist does not compile ----

type SchemaName =
  | 'Status'
  | 'Time'
  | 'UsageNumber'
  | 'PointValue'
  | 'Attributes'
  | 'AttributeFilters'
  | 'GaugeSource'
  | 'GaugeCombine'
  | 'Step'
  | 'TimeSeriesPoint'
  | 'TimeSeriesLine'
  | 'SumLine'
  | 'GaugeSourceLine'
  | 'GaugeCombinedLine'
  | 'LatestPerSource'
  | 'LatestCombined'
  | 'TotalAnswer'
  | 'TimeSeriesAnswer'
  | 'TopAnswer'
  | 'LatestAnswer'
  | 'StoredMetric'
  | 'MetricsAnswer'
  | 'AttributesAnswer'
  | 'LimitsAnswer'
  | 'AdminMetricsAnswer'
  | 'TenantsAnswer'
  | 'AdminTimeSeriesAnswer'
  | 'ExportLine';
type ParameterName =
  | 'Tenant'
  | 'Metric'
  | 'From'
  | 'To'
  | 'Service'
  | 'AttributeFilter'
  | 'Step'
  | 'Kind'
  | 'GroupBy'
  | 'Combine'
  | 'By'
  | 'Limit'
  | 'Period'
  | 'TimeZone'
  | 'ExportMetrics'
  | 'ExportGroupBy'
  | 'ExportFormat';
type ResponseName =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'Unavailable';
type HeaderName = 'RetryAfter' | 'Allow' | 'CacheOutcome';
type SecuritySchemeName = 'bearerKey' | 'apiKeyHeader' | 'tenantHeader';

const schema = (name: SchemaName): Reference => ({ $ref: `#/components/schemas/${name}` });
const parameter = (name: ParameterName): Reference => ({ $ref: `#/components/parameters/${name}` });
const response = (name: ResponseName): Reference => ({ $ref: `#/components/responses/${name}` });
const header = (name: HeaderName): Reference => ({ $ref: `#/components/headers/${name}` });
const json = (body: JsonSchema) => ({ 'application/json': { schema: body } });
const nullable = (body: JsonSchema) => ({ anyOf: [body, { type: 'null' }] });

/** The longest value any query parameter may have (`usage-query.ts` refuses longer ones). */
const MAX_PARAMETER_LENGTH = 1_024;
const text = (description: string, minLength = 1): JsonSchema => ({
  type: 'string',
  minLength,
  maxLength: MAX_PARAMETER_LENGTH,
  description,
});

// ---- schemas ----

/** google.rpc.Code values the usage API answers with, by HTTP status. */
const RPC_CODES = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  405: 12, // UNIMPLEMENTED
  503: [14, 4], // UNAVAILABLE; DEADLINE_EXCEEDED when a read ran out of time
} as const;

/** A string-keyed map of strings (attribute sets, resource attributes). */
const STRING_MAP: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

/**
 * What every metric read echoes of its selection (`answer.ts`, `filterOf`). A parameter that changes the
 * selection (and is echoed) is added here once, for every answer.
 */
function selectionProperties(): Record<string, JsonSchema> {
  return {
    tenant: { type: 'string' },
    metric: { type: 'string' },
    from: { ...nullable(schema('Time')), description: 'The range read, (from, to]; null when open.' },
    to: nullable(schema('Time')),
    period: { type: 'string', description: 'The calendar period the range was named by, as given.' },
    tz: { type: 'string', description: 'The IANA time zone given (`tz`), canonically spelled.' },
    service: { type: 'string' },
    attributes: schema('AttributeFilters'),
  };
}
const SELECTION_REQUIRED = ['tenant', 'metric', 'from', 'to', 'attributes'];

/** The fields of a time series answer after the selection. */
function seriesProperties(): Record<string, JsonSchema> {
  return {
    from: schema('Time'),
    to: schema('Time'),
    kind: { type: 'string', enum: ['sum', 'gauge'] },
    step: schema('Step'),
    groupBy: { type: 'string', description: 'Sums: the attribute each line is a value of.' },
    combine: schema('GaugeCombine'),
    bucketsFrom: schema('Time'),
    bucketsTo: schema('Time'),
    lines: { type: 'array', items: schema('TimeSeriesLine') },
  };
}
const SERIES_REQUIRED = ['kind', 'step', 'bucketsFrom', 'bucketsTo', 'lines'];

/**
 * A metric read's answer: the selection echoed, and its own fields (which may narrow the echo's). An admin read
 * over every tenant echoes no tenant.
 */
function answerSchema(
  description: string,
  required: readonly string[],
  properties: Record<string, JsonSchema>,
  scope: 'tenant' | 'admin' = 'tenant',
): JsonSchema {
  const { tenant, ...selection } = selectionProperties();
  const echoed = scope === 'tenant' ? { tenant, ...selection } : selection;
  return {
    type: 'object',
    description,
    required: [...SELECTION_REQUIRED.filter((name) => name in echoed), ...required],
    additionalProperties: false,
    properties: { ...echoed, ...properties },
  };
}

/** A ranking, largest first: each entry names what is ranked (`label`: an attribute value, a tenant) and its total. */
function rankedEntries(label: 'value' | 'tenant'): JsonSchema {
  return {
    type: 'array',
    items: {
      type: 'object',
      required: [label, 'total', 'rows'],
      additionalProperties: false,
      properties: {
        [label]: { type: 'string' },
        total: schema('UsageNumber'),
        rows: { type: 'integer', minimum: 0 },
      },
    },
  };
}

/** A time-series line: its key and points, and what its kind adds. */
function line(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return {
    type: 'object',
    description,
    required: ['key', ...Object.keys(properties), 'points'],
    additionalProperties: false,
    properties: {
      key: schema('Attributes'),
      ...properties,
      points: { type: 'array', items: schema('TimeSeriesPoint') },
    },
  };
}

const SCHEMAS: Record<SchemaName, JsonSchema> = {
  Status: {
    type: 'object',
    description:
      'A google.rpc.Status in proto3 JSON: every error answer of the usage API. `message` names the problem; ' +
      'for a bad parameter it starts with the parameter\'s name (`step: expected one of 1m, 1h, 1d, got "5m"`).',
    required: ['code', 'message'],
    additionalProperties: false,
    properties: {
      code: {
        type: 'integer',
        format: 'int32',
        description:
          'google.rpc.Code: 3 INVALID_ARGUMENT (400), 16 UNAUTHENTICATED (401), 7 PERMISSION_DENIED (403), ' +
          '5 NOT_FOUND (404), 12 UNIMPLEMENTED (405), 14 UNAVAILABLE or 4 DEADLINE_EXCEEDED (503).',
      },
      message: { type: 'string', minLength: 1 },
      details: {
        type: 'array',
        description: 'google.protobuf.Any messages, e.g. a google.rpc.RetryInfo.',
        items: {
          type: 'object',
          required: ['@type'],
          properties: { '@type': { type: 'string' } },
        },
      },
    },
  },
  Time: {
    type: 'string',
    format: 'date-time',
    // What formatTime writes: UTC, milliseconds always, nanoseconds when the instant has them.
    pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.([0-9]{3}|[0-9]{9})Z$',
    description: 'An instant, RFC 3339 in UTC: milliseconds always, nanoseconds when it has them.',
    examples: ['2026-03-01T05:00:00.000Z', '2026-03-01T05:00:00.000000001Z'],
  },
  UsageNumber: {
    description:
      'A value: a JSON number, or the strings "NaN", "Infinity", "-Infinity" as proto3 JSON spells the values ' +
      'JSON has no number for (gauges may hold them; a sum of finite values may overflow).',
    oneOf: [{ type: 'number' }, { type: 'string', enum: ['NaN', 'Infinity', '-Infinity'] }],
  },
  PointValue: {
    description:
      "A bucket's value. Sums: the bucket's total (0 when empty). Gauges: the last value at or before the " +
      "bucket's end, carried forward; null before the first one.",
    oneOf: [schema('UsageNumber'), { type: 'null' }],
  },
  Attributes: {
    ...STRING_MAP,
    description: 'An attribute set; non-string values as stored, canonical JSON (`42`, `true`).',
  },
  AttributeFilters: {
    type: 'object',
    description:
      'The `attr.<key>` filters of the request by key: a value, or the values any of which matches (the key ' +
      'repeated).',
    additionalProperties: {
      oneOf: [{ type: 'string' }, { type: 'array', minItems: 2, items: { type: 'string' } }],
    },
  },
  GaugeSource: {
    type: 'object',
    description:
      "Where a gauge series comes from: the reporting resource's attributes and its instrumentation scope. Two " +
      'hosts (or scopes) reporting equal attributes are two source series.',
    required: ['resource', 'scope'],
    additionalProperties: false,
    properties: {
      resource: STRING_MAP,
      scope: {
        type: 'object',
        required: ['name', 'version'],
        additionalProperties: false,
        properties: { name: { type: 'string' }, version: { type: 'string' } },
      },
    },
  },
  GaugeCombine: {
    type: 'string',
    enum: [...GAUGE_COMBINES],
    description:
      "How a gauge's sources are combined: each source's latest value (carried forward in a time series) " +
      'summed, or the largest, smallest or mean of them. Sources without a value yet do not count.',
  },
  Step: {
    type: 'string',
    enum: [...STEPS],
    description: 'A bucket: a UTC minute, a UTC hour, or a day — a UTC day, or a local day of `tz`.',
  },
  TimeSeriesPoint: {
    type: 'object',
    required: ['start', 'value'],
    additionalProperties: false,
    properties: {
      start: { ...schema('Time'), description: 'The bucket start b: the bucket holds b < time ≤ b + step.' },
      value: schema('PointValue'),
    },
  },
  TimeSeriesLine: {
    description:
      'One line of a time series, over every bucket of the range: a sum line, a gauge source series, or gauge ' +
      'sources combined.',
    oneOf: [schema('SumLine'), schema('GaugeSourceLine'), schema('GaugeCombinedLine')],
  },
  SumLine: line(
    'A sum, zero-filled: `key` is `{}`, or `{ <group_by>: value }` ("" for rows without the attribute).',
    {},
  ),
  GaugeSourceLine: line("One source series of a gauge, carried forward: `key` is the series' attributes.", {
    unit: { type: 'string' },
    source: schema('GaugeSource'),
  }),
  GaugeCombinedLine: line(
    "A gauge's sources of one (unit, attributes) combined bucket by bucket; `sources`: how many had a value.",
    { unit: { type: 'string' }, sources: { type: 'integer', minimum: 0 } },
  ),
  LatestPerSource: {
    type: 'object',
    description: 'The latest value of one source series.',
    required: ['unit', 'attributes', 'source', 'value', 'time'],
    additionalProperties: false,
    properties: {
      unit: { type: 'string' },
      attributes: schema('Attributes'),
      source: schema('GaugeSource'),
      value: schema('UsageNumber'),
      time: schema('Time'),
    },
  },
  LatestCombined: {
    type: 'object',
    description:
      "The sources' latest values of one (unit, attributes), combined; `time` is the newest of them, `sources` " +
      'how many were combined.',
    required: ['unit', 'attributes', 'sources', 'value', 'time'],
    additionalProperties: false,
    properties: {
      unit: { type: 'string' },
      attributes: schema('Attributes'),
      sources: { type: 'integer', minimum: 1 },
      value: schema('UsageNumber'),
      time: schema('Time'),
    },
  },
  TotalAnswer: answerSchema(
    'The total of one sum metric over (from, to], and the selection it was read with.',
    ['total', 'rows'],
    {
      total: { ...schema('UsageNumber'), description: 'sum of the delta rows in the range: the usage.' },
      rows: { type: 'integer', minimum: 0, description: 'Stored rows summed.' },
    },
  ),
  TimeSeriesAnswer: answerSchema(
    'One metric in buckets of `step`, one line per value of `groupBy` (sums) or per source series (gauges, ' +
      'unless combined). `bucketsFrom`/`bucketsTo` are the range widened outwards to whole buckets (local ' +
      'midnights with `tz` and `step=1d`).',
    SERIES_REQUIRED,
    seriesProperties(),
  ),
  TopAnswer: answerSchema(
    'The values of attribute `by` with the largest totals of a sum metric, largest first; rows without the ' +
      'attribute are left out.',
    ['by', 'limit', 'entries'],
    {
      by: { type: 'string' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_TOP_LIMIT },
      entries: rankedEntries('value'),
    },
  ),
  LatestAnswer: answerSchema(
    'The latest value of a gauge in (from, to]: per source series, or with `combine` combined per (unit, ' +
      'attributes).',
    ['latest'],
    {
      combine: schema('GaugeCombine'),
      latest: {
        type: 'array',
        items: { oneOf: [schema('LatestPerSource'), schema('LatestCombined')] },
      },
    },
  ),
  StoredMetric: {
    type: 'object',
    required: ['name', 'unit', 'kind'],
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      unit: { type: 'string' },
      kind: { type: 'string', enum: ['sum', 'gauge', 'histogram'] },
    },
  },
  MetricsAnswer: {
    type: 'object',
    description: 'The sum, gauge and histogram metrics stored for the tenant, by name.',
    required: ['tenant', 'metrics'],
    additionalProperties: false,
    properties: { tenant: { type: 'string' }, metrics: { type: 'array', items: schema('StoredMetric') } },
  },
  AttributesAnswer: {
    type: 'object',
    description: "The attribute keys of a metric's series, with how many distinct values each has, by key.",
    required: ['tenant', 'metric', 'keys'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      metric: { type: 'string' },
      keys: {
        type: 'array',
        items: {
          type: 'object',
          required: ['key', 'values'],
          additionalProperties: false,
          properties: { key: { type: 'string' }, values: { type: 'integer', minimum: 1 } },
        },
      },
    },
  },
  LimitsAnswer: {
    type: 'object',
    description:
      "The tenant's limits as this collector's limiter knows them: its quota in the running period (its own " +
      "count plus, when shared, the other collectors' as of the last sync) and its rate limit.",
    required: ['tenant', 'quotas', 'rate'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      quotas: {
        type: 'array',
        maxItems: 1,
        items: {
          type: 'object',
          required: ['period', 'timeZone', 'limit', 'used', 'remaining', 'periodStart', 'resetsAt'],
          additionalProperties: false,
          properties: {
            period: { type: 'string', enum: ['hour', 'day', 'month'] },
            timeZone: { type: 'string', description: 'The IANA zone whose calendar the periods follow.' },
            limit: { type: 'integer', minimum: 1 },
            used: { type: 'integer', minimum: 0 },
            remaining: { type: 'integer', minimum: 0 },
            periodStart: schema('Time'),
            resetsAt: schema('Time'),
          },
        },
      },
      rate: nullable({
        type: 'object',
        required: ['pointsPerSecond', 'burst', 'available'],
        additionalProperties: false,
        properties: {
          pointsPerSecond: { type: 'number', exclusiveMinimum: 0 },
          burst: { type: 'integer', minimum: 1 },
          available: {
            type: 'integer',
            minimum: 0,
            description:
              'Points the tenant could send at once right now: the burst less what is not yet paid back.',
          },
        },
      }),
    },
  },
  AdminMetricsAnswer: {
    type: 'object',
    description: 'The metrics stored for any tenant, by name.',
    required: ['metrics'],
    additionalProperties: false,
    properties: { metrics: { type: 'array', items: schema('StoredMetric') } },
  },
  TenantsAnswer: answerSchema(
    'The tenants with the largest totals of a sum metric, largest first (ties by tenant).',
    ['limit', 'entries'],
    {
      limit: { type: 'integer', minimum: 1, maximum: MAX_TOP_LIMIT },
      entries: rankedEntries('tenant'),
    },
    'admin',
  ),
  AdminTimeSeriesAnswer: answerSchema(
    'A sum metric over every tenant in buckets of `step`: one line, or one per value of `groupBy`.',
    SERIES_REQUIRED,
    seriesProperties(),
    'admin',
  ),
  ExportLine: {
    type: 'object',
    description:
      "One line of a JSON-lines export: a tenant's total of a metric (and unit) over the period, per " +
      'combination of the `group_by` attributes\' values ("" for rows without one).',
    required: ['tenant', 'metric', 'unit', 'attributes', 'total', 'rows'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      metric: { type: 'string' },
      unit: { type: 'string' },
      attributes: STRING_MAP,
      total: schema('UsageNumber'),
      rows: { type: 'integer', minimum: 1 },
    },
  },
};

// ---- parameters ----

const QUERY_TIME: JsonSchema = {
  type: 'string',
  anyOf: [
    {
      format: 'date-time',
      pattern:
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$',
    },
    { pattern: '^[0-9]{1,15}$' },
  ],
  examples: ['2026-03-01T00:00:00Z', '1772323200000'],
};

const PARAMETERS: Record<ParameterName, ParameterObject> = {
  Tenant: {
    name: 'tenant',
    in: 'path',
    required: true,
    description: `The tenant, percent-encoded: not empty, at most ${MAX_TENANT_LENGTH} characters, no control characters.`,
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_TENANT_LENGTH,
      pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$',
    },
  },
  Metric: {
    name: 'metric',
    in: 'query',
    required: true,
    description: 'The metric name.',
    schema: text('A metric name.'),
  },
  From: {
    name: 'from',
    in: 'query',
    description: 'Exclusive start of the range: RFC 3339 (offsets, up to 9 fractional digits) or Unix ms.',
    schema: QUERY_TIME,
  },
  To: {
    name: 'to',
    in: 'query',
    description: 'Inclusive end of the range, after `from`: RFC 3339 or Unix milliseconds.',
    schema: QUERY_TIME,
  },
  Service: {
    name: 'service',
    in: 'query',
    description: 'Only rows of this `service.name`.',
    schema: text('A service name.'),
  },
  AttributeFilter: {
    // Free-form query parameters as OpenAPI describes them: an exploded form object, one `attr.<key>=<value>`
    // pair per property. Validators check names against propertyNames; generators take a string map.
    name: 'attr',
    in: 'query',
    style: 'form',
    explode: true,
    description:
      'Attribute filters: `attr.<key>=<value>` keeps rows whose attribute `<key>` is `<value>`; repeat the same ' +
      '`attr.<key>` to accept any of several values. Non-string values compare as stored (canonical JSON: `42`).',
    schema: {
      type: 'object',
      propertyNames: { type: 'string', pattern: '^attr\\.[\\s\\S]' },
      additionalProperties: { type: 'string', maxLength: MAX_PARAMETER_LENGTH },
      examples: [{ 'attr.region': 'eu', 'attr.route': '/pay' }],
    },
  },
  Step: {
    name: 'step',
    in: 'query',
    required: true,
    description: `The bucket size; at most ${MAX_BUCKETS} buckets per line.`,
    schema: schema('Step'),
  },
  Kind: {
    name: 'kind',
    in: 'query',
    description: 'The metric kind: sums add up; gauges answer the last value per bucket.',
    schema: { type: 'string', enum: ['sum', 'gauge'], default: 'sum' },
  },
  GroupBy: {
    name: 'group_by',
    in: 'query',
    description: 'Sums only: one line per value of this attribute ("" for rows without it).',
    schema: text('An attribute key.'),
  },
  Combine: {
    name: 'combine',
    in: 'query',
    description: 'Gauges only: combine the sources of each (unit, attributes) instead of a line per source.',
    schema: schema('GaugeCombine'),
  },
  By: {
    name: 'by',
    in: 'query',
    required: true,
    description: 'The attribute whose values are ranked.',
    schema: text('An attribute key.'),
  },
  Limit: {
    name: 'limit',
    in: 'query',
    description: 'How many values to answer.',
    schema: { type: 'integer', minimum: 1, maximum: MAX_TOP_LIMIT, default: DEFAULT_TOP_LIMIT },
  },
  Period: {
    name: 'period',
    in: 'query',
    description:
      'Instead of `from`/`to`: a month (`2026-03`) or a day (`2026-03-08`) of the calendar of `tz`, from local ' +
      'midnight to local midnight (23 or 25 hours across DST changes).',
    schema: {
      type: 'string',
      pattern: '^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$',
      examples: ['2026-03', '2026-03-08'],
    },
  },
  TimeZone: {
    name: 'tz',
    in: 'query',
    description:
      'An IANA time zone (default UTC): the calendar of `period`, and of `step=1d` buckets (local days). ' +
      'Refused where it would change nothing (with `from`/`to` and no `1d` step).',
    schema: text('An IANA time zone name, e.g. America/New_York.'),
  },
  ExportMetrics: {
    name: 'metric',
    in: 'query',
    required: true,
    style: 'form',
    explode: true,
    description: `The sum metrics to total; repeat for several (at most ${MAX_EXPORT_METRICS}).`,
    schema: { type: 'array', minItems: 1, maxItems: MAX_EXPORT_METRICS, items: text('A metric name.') },
  },
  ExportGroupBy: {
    name: 'group_by',
    in: 'query',
    style: 'form',
    explode: true,
    description: `Attribute keys: one total per tenant, metric, unit and combination of their values (at most ${MAX_EXPORT_GROUPS}, each once).`,
    schema: {
      type: 'array',
      maxItems: MAX_EXPORT_GROUPS,
      uniqueItems: true,
      items: text('An attribute key.'),
    },
  },
  ExportFormat: {
    name: 'format',
    in: 'query',
    description:
      'JSON lines or CSV; without it, `Accept: text/csv` chooses CSV and anything else JSON lines.',
    schema: { type: 'string', enum: [...EXPORT_FORMATS] },
  },
};

/** `period` and `tz`, on the reads of a range. */
const CALENDAR_PARAMETERS = [parameter('Period'), parameter('TimeZone')];

/** What selects a metric's rows, on every metric read. */
const FILTER_PARAMETERS = [
  parameter('Metric'),
  parameter('From'),
  parameter('To'),
  parameter('Service'),
  parameter('AttributeFilter'),
];

// ---- answers ----

const HEADERS: Record<HeaderName, HeaderObject> = {
  RetryAfter: {
    description: 'Seconds to wait before retrying (TALLYHOUSE_RETRY_AFTER_SECONDS).',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  Allow: {
    description: 'The methods the route takes.',
    required: true,
    schema: { type: 'string', const: 'GET' },
  },
  CacheOutcome: {
    description:
      'How the answer was found: run now (miss), shared with an identical read running (coalesced), or ' +
      'served from the answer cache (hit; TALLYHOUSE_QUERY_CACHE_TTL_MS).',
    required: true,
    schema: { type: 'string', enum: ['miss', 'coalesced', 'hit'] },
  },
};

/** An error answer: a Status whose `code` is the one the usage API sends with that HTTP status. */
function errorResponse(
  status: keyof typeof RPC_CODES,
  description: string,
  headers?: ResponseObject['headers'],
): ResponseObject {
  const codes = RPC_CODES[status];
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: json({
      allOf: [
        schema('Status'),
        { type: 'object', properties: { code: { enum: typeof codes === 'number' ? [codes] : [...codes] } } },
      ],
    }),
  };
}

const RESPONSES: Record<ResponseName, ResponseObject> = {
  BadRequest: errorResponse(
    400,
    'A parameter is unknown, repeated, empty, malformed or out of range, or the answer would pass a read ' +
      'limit (TALLYHOUSE_USAGE_MAX_POINTS, …_MAX_ROWS, …_MAX_BYTES, …_QUERY_MEMORY_MIB). The message names ' +
      'the parameter or the limit, and how to narrow the query.',
  ),
  Unauthorized: errorResponse(
    401,
    'No credentials, or wrong ones: checked before anything else of the request.',
  ),
  Forbidden: errorResponse(
    403,
    "The credentials are another tenant's: a tenant's key reads that tenant only.",
  ),
  NotFound: errorResponse(404, 'No such route.'),
  MethodNotAllowed: errorResponse(405, 'The route takes GET only.', { Allow: header('Allow') }),
  Unavailable: errorResponse(
    503,
    'Retry later: storage failed (UNAVAILABLE), TALLYHOUSE_USAGE_MAX_CONCURRENT reads are running ' +
      '(UNAVAILABLE), or the read ran past TALLYHOUSE_USAGE_QUERY_TIMEOUT_MS (DEADLINE_EXCEEDED: narrow the ' +
      'query).',
    { 'Retry-After': header('RetryAfter') },
  ),
};

// ---- credentials ----

const SECURITY_SCHEMES: Record<SecuritySchemeName, SecuritySchemeObject> = {
  bearerKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      "`Authorization: Bearer <key>`: the admin key (TALLYHOUSE_ADMIN_KEY) reads any tenant; in apikey mode a tenant's API key reads that tenant.",
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'The same keys as `x-api-key: <key>`.',
  },
  tenantHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'x-tenant-id',
    description:
      'Only with TALLYHOUSE_READS_TRUST_TENANT_HEADER=true (an authenticating proxy sets it): reads the tenant ' +
      'it names. The header is TALLYHOUSE_TENANT_HEADER (default x-tenant-id).',
  },
};
/** Any one of the schemes. */
const READ_CREDENTIALS: readonly SecurityRequirement[] = [
  { bearerKey: [] },
  { apiKeyHeader: [] },
  { tenantHeader: [] },
];

// ---- routes ----

/** What every read answers: its content (with the cache outcome unless answered live), or a refusal. */
function readResponses(
  content: Record<string, MediaTypeObject>,
  cached = true,
): Readonly<Record<string, ResponseObject | Reference>> {
  return {
    200: {
      description: 'The answer (`Cache-Control: private, no-store`).',
      ...(cached ? { headers: { 'x-tallyhouse-cache': header('CacheOutcome') } } : {}),
      content,
    },
    400: response('BadRequest'),
    401: response('Unauthorized'),
    403: response('Forbidden'),
    503: response('Unavailable'),
  };
}

/** What a read route says of itself: its operation, its own parameters, whether its answer goes through the cache. */
interface ReadRoute {
  operationId: string;
  summary: string;
  description: string;
  parameters: readonly Reference[];
  /** False for a view answered live, outside the answer cache (no `x-tallyhouse-cache`). Default true. */
  cached?: boolean;
}

/** A `GET` read: its operation, tag, credentials (the document's by default), parameters and answers. */
function readPath(
  route: ReadRoute & {
    tag: 'usage' | 'admin';
    security?: readonly SecurityRequirement[];
    content: Record<string, MediaTypeObject>;
  },
): PathItemObject {
  return {
    get: {
      operationId: route.operationId,
      summary: route.summary,
      description: route.description,
      tags: [route.tag],
      ...(route.security === undefined ? {} : { security: route.security }),
      parameters: [...route.parameters],
      responses: readResponses(route.content, route.cached),
    },
  };
}

/**
 * A tenant view `GET /v1/usage/{tenant}/<view>`: the tenant path parameter, credentials, and the error answers
 * every tenant read can give, around the view's own parameters and answer.
 */
function tenantRead(view: ReadRoute & { answer: SchemaName }): PathItemObject {
  return readPath({
    ...view,
    tag: 'usage',
    parameters: [parameter('Tenant'), ...view.parameters],
    content: json(schema(view.answer)),
  });
}

/** The admin key only (never a tenant header). */
const ADMIN_CREDENTIALS: readonly SecurityRequirement[] = [{ bearerKey: [] }, { apiKeyHeader: [] }];

/**
 * An admin view `GET /v1/admin/<view>`: every tenant, for the admin key only (a tenant's key is a 403), around the
 * view's own parameters and answer.
 */
function adminRead(view: ReadRoute & { content: Record<string, MediaTypeObject> }): PathItemObject {
  return readPath({ ...view, tag: 'admin', security: ADMIN_CREDENTIALS });
}

const PATHS: Record<string, PathItemObject> = {
  [`${USAGE_PREFIX}{tenant}/total`]: tenantRead({
    operationId: 'getUsageTotal',
    summary: 'The total of a sum metric',
    description:
      'The tenant total of one sum metric over (from, to] (both bounds optional), or over a calendar period.',
    parameters: [...FILTER_PARAMETERS, ...CALENDAR_PARAMETERS],
    answer: 'TotalAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/timeseries`]: tenantRead({
    operationId: 'getUsageTimeSeries',
    summary: 'A metric in time buckets',
    description:
      'One metric in buckets of `step` over (from, to] (both required), zero-filled; sums optionally one line ' +
      'per value of `group_by`, gauges one line per source series or `combine`d. Lines × buckets are bounded ' +
      '(TALLYHOUSE_USAGE_MAX_POINTS).',
    parameters: [
      ...FILTER_PARAMETERS,
      ...CALENDAR_PARAMETERS,
      parameter('Step'),
      parameter('Kind'),
      parameter('GroupBy'),
      parameter('Combine'),
    ],
    answer: 'TimeSeriesAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/top`]: tenantRead({
    operationId: 'getUsageTop',
    summary: 'Top values of an attribute',
    description: 'The values of attribute `by` with the largest totals of a sum metric over (from, to].',
    parameters: [...FILTER_PARAMETERS, ...CALENDAR_PARAMETERS, parameter('By'), parameter('Limit')],
    answer: 'TopAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/latest`]: tenantRead({
    operationId: 'getUsageLatest',
    summary: 'The latest values of a gauge',
    description:
      'The latest value of a gauge in (from, to] per source series (each names its resource and scope), or ' +
      'combined across sources.',
    parameters: [...FILTER_PARAMETERS, parameter('Combine')],
    answer: 'LatestAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/metrics`]: tenantRead({
    operationId: 'getUsageMetrics',
    summary: 'The metrics stored',
    description: 'The sum, gauge and histogram metrics stored for the tenant (what a metric picker offers).',
    parameters: [],
    answer: 'MetricsAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/attributes`]: tenantRead({
    operationId: 'getUsageAttributes',
    summary: "A metric's attribute keys",
    description: "The attribute keys of one sum or gauge metric's series, with how many values each has.",
    parameters: [parameter('Metric')],
    answer: 'AttributesAnswer',
  }),
  [`${USAGE_PREFIX}{tenant}/limits`]: tenantRead({
    operationId: 'getUsageLimits',
    summary: 'Quota and rate limit, and what is left',
    description:
      "The tenant's quota in the running period (in its time zone) with what is used and left, and its rate " +
      'limit; live, never cached.',
    parameters: [],
    answer: 'LimitsAnswer',
    cached: false,
  }),
  [`${ADMIN_PREFIX}metrics`]: adminRead({
    operationId: 'getAdminMetrics',
    summary: 'The metrics stored for any tenant',
    description: 'Every metric stored, whichever tenant wrote it.',
    parameters: [],
    content: json(schema('AdminMetricsAnswer')),
  }),
  [`${ADMIN_PREFIX}tenants`]: adminRead({
    operationId: 'getAdminTenants',
    summary: 'Top tenants',
    description: 'The tenants with the largest totals of a sum metric over the range or period.',
    parameters: [...FILTER_PARAMETERS, ...CALENDAR_PARAMETERS, parameter('Limit')],
    content: json(schema('TenantsAnswer')),
  }),
  [`${ADMIN_PREFIX}timeseries`]: adminRead({
    operationId: 'getAdminTimeSeries',
    summary: 'A sum metric over every tenant',
    description:
      'A sum metric over every tenant in buckets of `step`, optionally one line per `group_by` value.',
    parameters: [...FILTER_PARAMETERS, ...CALENDAR_PARAMETERS, parameter('Step'), parameter('GroupBy')],
    content: json(schema('AdminTimeSeriesAnswer')),
  }),
  [`${ADMIN_PREFIX}export`]: adminRead({
    operationId: 'getAdminExport',
    summary: 'The billing export',
    description:
      "Every tenant's totals of one or more sum metrics over one period, streamed, ordered by tenant, metric, " +
      "unit and group values; each equal to that tenant's `total` to the unit. A failure after the first row " +
      'closes the connection without ending the body. Headers: `content-disposition` (the file name), ' +
      '`x-tallyhouse-from`/`x-tallyhouse-to` (the instants read).',
    parameters: [
      parameter('ExportMetrics'),
      parameter('From'),
      parameter('To'),
      ...CALENDAR_PARAMETERS,
      parameter('ExportGroupBy'),
      parameter('ExportFormat'),
    ],
    cached: false,
    content: {
      'application/x-ndjson': {
        schema: {
          type: 'string',
          description: 'One JSON object per line, each an `ExportLine` (components/schemas/ExportLine).',
        },
      },
      'text/csv': {
        schema: {
          type: 'string',
          description:
            'RFC 4180 with CRLF: a header `tenant,metric,unit,<group keys…>,total,rows`, then one record per total.',
        },
      },
    },
  }),
  [OPENAPI_DOCUMENT_PATH]: {
    get: {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      tags: ['contract'],
      security: [],
      responses: {
        200: {
          description: 'The OpenAPI document of the usage API (`Cache-Control: public, max-age=300`).',
          content: json({
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
          }),
        },
        405: response('MethodNotAllowed'),
      },
    },
  },
};

/** The usage API's OpenAPI document. */
export function usageApiDocument(): OpenApiDocument {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Tallyhouse usage API',
      version: '1',
      description:
        "Tenant-scoped usage read from a Tallyhouse collector's ClickHouse store. Every answer is JSON; every " +
        "error a google.rpc.Status. Ranges are (from, to] on the points' times. Reads are cached for " +
        'TALLYHOUSE_QUERY_CACHE_TTL_MS and bounded in size, time and concurrency. A documented route answers ' +
        'other methods with 405 (`Allow: GET`); an unknown route answers 404. See the collector README, ' +
        '"Usage API".',
    },
    servers: [{ url: '/', description: 'The collector serving this document (TALLYHOUSE_PORT).' }],
    tags: [
      { name: 'usage', description: "A tenant's usage." },
      { name: 'admin', description: 'Every tenant: the admin key only.' },
      { name: 'contract', description: 'This document.' },
    ],
    security: READ_CREDENTIALS,
    paths: PATHS,
    components: {
      schemas: SCHEMAS,
      parameters: PARAMETERS,
      responses: RESPONSES,
      headers: HEADERS,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

let served: Buffer | undefined;

/** `GET /v1/openapi.json`: the document, the same bytes for the process's life; a client may keep it 5 minutes. */
export function sendOpenApiDocument(response: ServerResponse): number {
  served ??= Buffer.from(JSON.stringify(usageApiDocument()));
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': served.byteLength,
    'cache-control': 'public, max-age=300',
  });
  response.end(served);
  return 200;
}
