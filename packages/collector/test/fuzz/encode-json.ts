/**
 * Model → OTLP/JSON through a small JSON tree of our own (so number spellings, escapes, key order and
 * whitespace are ours to choose), with the meaning-preserving variants the OTLP JSON encoding allows:
 * lowerCamelCase or proto names, 64-bit integers as strings or numbers, enums as numbers or names, doubles as
 * numbers or strings, `null` for absent fields, unknown fields, shuffled keys, escaped or raw unicode.
 */

import { randomExemplars } from './exemplars.ts';
import type {
  AnyValue,
  Buckets,
  ExponentialPoint,
  HistogramPoint,
  KeyValue,
  Metric,
  NumberPoint,
  PointCommon,
  Request,
  SummaryPoint,
} from './model.ts';
import type { Rng } from './rng.ts';

export type JNode =
  | { t: 'obj'; entries: [string, JNode][] }
  | { t: 'arr'; items: JNode[] }
  | { t: 'str'; value: string }
  /** A number literal, written as given. */
  | { t: 'num'; text: string }
  | { t: 'lit'; text: 'true' | 'false' | 'null' }
  /** Text written as is (corruptions). */
  | { t: 'raw'; text: string };

export interface JsonVariant {
  readonly names: 'camel' | 'snake' | 'mixed';
  /** Probability of a safe 64-bit integer written as a JSON number instead of a string. */
  readonly int64AsNumber: number;
  /** Probability of an int32 written as a string. */
  readonly int32AsString: number;
  readonly enumNames: number;
  /** Probability of a finite double written as a string. */
  readonly doubleAsString: number;
  readonly nullForAbsent: number;
  readonly unknown: number;
  readonly shuffleKeys: boolean;
  readonly escapeUnicode: boolean;
  readonly whitespace: boolean;
  readonly urlSafeBase64: boolean;
}

export const PLAIN_JSON: JsonVariant = {
  names: 'camel',
  int64AsNumber: 0,
  int32AsString: 0,
  enumNames: 0,
  doubleAsString: 0,
  nullForAbsent: 0,
  unknown: 0,
  shuffleKeys: false,
  escapeUnicode: false,
  whitespace: false,
  urlSafeBase64: false,
};

export function randomJsonVariant(rng: Rng): JsonVariant {
  if (rng.bool(0.25)) return PLAIN_JSON;
  return {
    names: rng.pick(['camel', 'snake', 'mixed'] as const),
    int64AsNumber: rng.pick([0, 0.5, 1]),
    int32AsString: rng.pick([0, 0, 0.5]),
    enumNames: rng.pick([0, 0.5, 1]),
    doubleAsString: rng.pick([0, 0, 0.3]),
    nullForAbsent: rng.pick([0, 0.3]),
    unknown: rng.pick([0, 0.2, 0.8]),
    shuffleKeys: rng.bool(0.5),
    escapeUnicode: rng.bool(0.3),
    whitespace: rng.bool(0.3),
    urlSafeBase64: rng.bool(0.3),
  };
}

export function describeJsonVariant(v: JsonVariant): string {
  const parts: string[] = [];
  if (v.names !== 'camel') parts.push(`${v.names} names`);
  if (v.int64AsNumber > 0) parts.push(`int64 numbers ${v.int64AsNumber}`);
  if (v.int32AsString > 0) parts.push(`int32 strings ${v.int32AsString}`);
  if (v.enumNames > 0) parts.push(`enum names ${v.enumNames}`);
  if (v.doubleAsString > 0) parts.push(`double strings ${v.doubleAsString}`);
  if (v.nullForAbsent > 0) parts.push(`nulls ${v.nullForAbsent}`);
  if (v.unknown > 0) parts.push(`unknown ${v.unknown}`);
  if (v.shuffleKeys) parts.push('shuffled keys');
  if (v.escapeUnicode) parts.push('escaped unicode');
  if (v.whitespace) parts.push('whitespace');
  if (v.urlSafeBase64) parts.push('url-safe base64');
  return parts.length === 0 ? 'plain' : parts.join(', ');
}

const TEMPORALITY_NAMES = [
  'AGGREGATION_TEMPORALITY_UNSPECIFIED',
  'AGGREGATION_TEMPORALITY_DELTA',
  'AGGREGATION_TEMPORALITY_CUMULATIVE',
];

const str = (value: string): JNode => ({ t: 'str', value });
const num = (text: string): JNode => ({ t: 'num', text });
const arr = (items: JNode[]): JNode => ({ t: 'arr', items });

class Builder {
  readonly rng: Rng;
  readonly v: JsonVariant;

  constructor(rng: Rng, v: JsonVariant) {
    this.rng = rng;
    this.v = v;
  }

  name(camel: string): string {
    const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (this.v.names === 'camel') return camel;
    if (this.v.names === 'snake') return snake;
    return this.rng.bool() ? camel : snake;
  }

  /** An object from [camelName, value | undefined] pairs; undefined = absent (left out, or null). */
  obj(pairs: [string, JNode | undefined][]): JNode {
    const entries: [string, JNode][] = [];
    for (const [key, value] of pairs) {
      if (value !== undefined) entries.push([this.name(key), value]);
      else if (this.rng.bool(this.v.nullForAbsent))
        entries.push([this.name(key), { t: 'lit', text: 'null' }]);
    }
    if (this.rng.bool(this.v.unknown)) {
      entries.push([
        this.rng.pick(['fuzzUnknown', 'x_future_field', 'exemplarsV2', '']),
        this.rng.pick<JNode>([
          num('1'),
          str('two'),
          arr([{ t: 'lit', text: 'null' }]),
          { t: 'obj', entries: [] },
        ]),
      ]);
    }
    return { t: 'obj', entries: this.v.shuffleKeys ? this.rng.shuffle(entries) : entries };
  }

  int64(value: bigint): JNode {
    const safe = value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER);
    if (safe && this.rng.bool(this.v.int64AsNumber)) {
      // Integral numbers may be written in exponent form too: JSON has one number type.
      return num(
        value !== 0n && value % 1000n === 0n && this.rng.bool(0.2) ? `${value / 1000n}e3` : value.toString(),
      );
    }
    return str(value.toString());
  }

  int32(value: number): JNode {
    return this.rng.bool(this.v.int32AsString) ? str(String(value)) : num(String(value));
  }

  double(value: number): JNode {
    if (Number.isNaN(value)) return str('NaN');
    if (value === Number.POSITIVE_INFINITY) return str('Infinity');
    if (value === Number.NEGATIVE_INFINITY) return str('-Infinity');
    const text = Object.is(value, -0) ? '-0' : String(value);
    return this.rng.bool(this.v.doubleAsString) ? str(text) : num(text);
  }

  enumValue(value: number): JNode {
    const name = TEMPORALITY_NAMES[value];
    if (name !== undefined && this.rng.bool(this.v.enumNames)) return str(name);
    return this.int32(value);
  }

  text(value: string): JNode | undefined {
    return value === '' && this.rng.bool(0.5) ? undefined : str(value);
  }

  anyValue(value: AnyValue): JNode {
    switch (value.kind) {
      case 'string':
        return this.obj([['stringValue', str(value.value)]]);
      case 'bool':
        return this.obj([['boolValue', { t: 'lit', text: value.value ? 'true' : 'false' }]]);
      case 'int':
        return this.obj([['intValue', this.int64(value.value)]]);
      case 'double':
        return this.obj([['doubleValue', this.double(value.value)]]);
      case 'bytes': {
        let b64 = Buffer.from(value.value).toString(this.v.urlSafeBase64 ? 'base64url' : 'base64');
        if (this.v.urlSafeBase64 && this.rng.bool()) b64 = b64.padEnd(Math.ceil(b64.length / 4) * 4, '=');
        return this.obj([['bytesValue', str(b64)]]);
      }
      case 'array':
        return this.obj([
          ['arrayValue', this.obj([['values', arr(value.values.map((v) => this.anyValue(v)))]])],
        ]);
      case 'kvlist':
        return this.obj([
          ['kvlistValue', this.obj([['values', arr(value.values.map((kv) => this.keyValue(kv)))]])],
        ]);
      case 'empty':
        return this.obj([]);
    }
  }

  keyValue(kv: KeyValue): JNode {
    return this.obj([
      ['key', str(kv.key)],
      ['value', kv.value === undefined ? undefined : this.anyValue(kv.value)],
    ]);
  }

  attributes(list: readonly KeyValue[]): JNode | undefined {
    if (list.length === 0 && this.rng.bool(0.5)) return undefined;
    return arr(list.map((kv) => this.keyValue(kv)));
  }

  common(p: PointCommon): [string, JNode | undefined][] {
    return [
      ['attributes', this.attributes(p.attributes)],
      ['startTimeUnixNano', p.start === undefined ? undefined : this.int64(p.start)],
      ['timeUnixNano', p.time === undefined ? undefined : this.int64(p.time)],
      ['flags', p.flags === 0 && this.rng.bool(0.7) ? undefined : this.int32(p.flags)],
    ];
  }

  /** An id as OTLP/JSON writes it: hex in either case, or now and then base64 (proto3's bytes, dropped). */
  id(bytes: Uint8Array): JNode | undefined {
    if (bytes.length === 0) return undefined;
    const text = Buffer.from(bytes).toString(this.rng.bool(0.1) ? 'base64' : 'hex');
    return str(this.rng.bool() ? text.toUpperCase() : text);
  }

  exemplars(): [string, JNode | undefined] {
    const exemplars = randomExemplars(this.rng).map((e) =>
      this.obj([
        ['filteredAttributes', this.attributes([{ key: 'ex', value: { kind: 'string', value: 'x' } }])],
        ['timeUnixNano', this.int64(e.time)],
        ...this.numberValue(e.value),
        ['spanId', this.id(e.spanId)],
        ['traceId', this.id(e.traceId)],
      ]),
    );
    return ['exemplars', exemplars.length === 0 ? undefined : arr(exemplars)];
  }

  numberValue(value: { asDouble: number } | { asInt: bigint } | undefined): [string, JNode | undefined][] {
    if (value === undefined) return [];
    return 'asDouble' in value
      ? [['asDouble', this.double(value.asDouble)]]
      : [['asInt', this.int64(value.asInt)]];
  }

  numberPoint(p: NumberPoint): JNode {
    return this.obj([...this.common(p), ...this.numberValue(p.value), this.exemplars()]);
  }

  optionalDouble(value: number | undefined): JNode | undefined {
    return value === undefined ? undefined : this.double(value);
  }

  histogramPoint(p: HistogramPoint): JNode {
    return this.obj([
      ...this.common(p),
      ['count', this.int64(p.count)],
      ['sum', this.optionalDouble(p.sum)],
      [
        'bucketCounts',
        p.bucketCounts.length === 0 ? undefined : arr(p.bucketCounts.map((c) => this.int64(c))),
      ],
      ['explicitBounds', p.bounds.length === 0 ? undefined : arr(p.bounds.map((b) => this.double(b)))],
      ['min', this.optionalDouble(p.min)],
      ['max', this.optionalDouble(p.max)],
      this.exemplars(),
    ]);
  }

  buckets(b: Buckets | undefined): JNode | undefined {
    if (b === undefined) return undefined;
    return this.obj([
      ['offset', b.offset === 0 && this.rng.bool() ? undefined : this.int32(b.offset)],
      ['bucketCounts', arr(b.counts.map((c) => this.int64(c)))],
    ]);
  }

  exponentialPoint(p: ExponentialPoint): JNode {
    return this.obj([
      ...this.common(p),
      ['count', this.int64(p.count)],
      ['sum', this.optionalDouble(p.sum)],
      ['scale', p.scale === 0 && this.rng.bool() ? undefined : this.int32(p.scale)],
      ['zeroCount', this.int64(p.zeroCount)],
      ['positive', this.buckets(p.positive)],
      ['negative', this.buckets(p.negative)],
      ['min', this.optionalDouble(p.min)],
      ['max', this.optionalDouble(p.max)],
      ['zeroThreshold', this.optionalDouble(p.zeroThreshold)],
      this.exemplars(),
    ]);
  }

  summaryPoint(p: SummaryPoint): JNode {
    return this.obj([
      ...this.common(p),
      ['count', this.int64(p.count)],
      ['sum', this.double(p.sum)],
      [
        'quantileValues',
        arr(
          p.quantiles.map((q) =>
            this.obj([
              ['quantile', this.double(q.quantile)],
              ['value', this.double(q.value)],
            ]),
          ),
        ),
      ],
    ]);
  }

  metric(m: Metric): JNode {
    const d = m.data;
    let data: [string, JNode] | undefined;
    switch (d.kind) {
      case 'gauge':
        data = ['gauge', this.obj([['dataPoints', arr(d.points.map((p) => this.numberPoint(p)))]])];
        break;
      case 'sum':
        data = [
          'sum',
          this.obj([
            ['dataPoints', arr(d.points.map((p) => this.numberPoint(p)))],
            ['aggregationTemporality', this.enumValue(d.temporality)],
            [
              'isMonotonic',
              d.monotonic
                ? { t: 'lit', text: 'true' }
                : this.rng.bool()
                  ? { t: 'lit', text: 'false' }
                  : undefined,
            ],
          ]),
        ];
        break;
      case 'histogram':
        data = [
          'histogram',
          this.obj([
            ['dataPoints', arr(d.points.map((p) => this.histogramPoint(p)))],
            ['aggregationTemporality', this.enumValue(d.temporality)],
          ]),
        ];
        break;
      case 'exponentialHistogram':
        data = [
          'exponentialHistogram',
          this.obj([
            ['dataPoints', arr(d.points.map((p) => this.exponentialPoint(p)))],
            ['aggregationTemporality', this.enumValue(d.temporality)],
          ]),
        ];
        break;
      case 'summary':
        data = ['summary', this.obj([['dataPoints', arr(d.points.map((p) => this.summaryPoint(p)))]])];
        break;
      case 'none':
        data = undefined;
    }
    return this.obj([
      ['name', this.text(m.name)],
      ['description', this.text(m.description)],
      ['unit', this.text(m.unit)],
      ...(data === undefined ? [] : [data]),
      ['metadata', m.metadata.length === 0 ? undefined : arr(m.metadata.map((kv) => this.keyValue(kv)))],
    ]);
  }

  request(r: Request): JNode {
    return this.obj([
      [
        'resourceMetrics',
        arr(
          r.resources.map((resource) =>
            this.obj([
              ['resource', this.obj([['attributes', this.attributes(resource.attributes)]])],
              [
                'scopeMetrics',
                arr(
                  resource.scopes.map((scope) =>
                    this.obj([
                      [
                        'scope',
                        this.obj([
                          ['name', this.text(scope.name)],
                          ['version', this.text(scope.version)],
                          ['attributes', this.attributes(scope.attributes)],
                        ]),
                      ],
                      ['metrics', arr(scope.metrics.map((m) => this.metric(m)))],
                      ['schemaUrl', this.text(scope.schemaUrl)],
                    ]),
                  ),
                ),
              ],
              ['schemaUrl', this.text(resource.schemaUrl)],
            ]),
          ),
        ),
      ],
    ]);
  }
}

// ---- text ----

function quote(value: string, escapeUnicode: boolean): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (code < 0x20 || code === 0x7f || (escapeUnicode && code > 0x7e)) {
      // Surrogate pairs become two escapes, which JSON joins back into one code point.
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

export function stringify(node: JNode, options: { escapeUnicode?: boolean; whitespace?: Rng } = {}): string {
  const ws = () =>
    options.whitespace?.bool(0.3) ? options.whitespace.pick([' ', '\n', '\t', '\r\n  ']) : '';
  const go = (n: JNode): string => {
    switch (n.t) {
      case 'obj':
        return `{${ws()}${n.entries.map(([k, v]) => `${quote(k, options.escapeUnicode ?? false)}${ws()}:${ws()}${go(v)}`).join(`,${ws()}`)}${ws()}}`;
      case 'arr':
        return `[${ws()}${n.items.map(go).join(`,${ws()}`)}${ws()}]`;
      case 'str':
        return quote(n.value, options.escapeUnicode ?? false);
      case 'num':
      case 'lit':
      case 'raw':
        return n.text;
    }
  };
  return `${ws()}${go(node)}${ws()}`;
}

export interface JsonEncoding {
  readonly tree: JNode;
  readonly text: string;
}

export function encodeJson(request: Request, variant: JsonVariant, rng: Rng): JsonEncoding {
  const tree = new Builder(rng, variant).request(request);
  const text = stringify(tree, {
    escapeUnicode: variant.escapeUnicode,
    ...(variant.whitespace ? { whitespace: rng } : {}),
  });
  return { tree, text };
}
