/**
 * One fuzz case = one HTTP request under a tenant of its own, derived only from (seed, index): valid requests
 * re-encoded in meaning-preserving ways, corruptions of valid encodings, HTTP-level twists, random bytes.
 */
import { deflateSync, gzipSync } from 'node:zlib';
import { corruptJson, corruptProtobuf, JSON_CORRUPTIONS, PROTOBUF_CORRUPTIONS } from './corrupt.ts';
import { describeJsonVariant, encodeJson, type JsonVariant, randomJsonVariant } from './encode-json.ts';
import {
  describeProtobufVariant,
  encodeProtobuf,
  type ProtobufVariant,
  randomProtobufVariant,
} from './encode-protobuf.ts';
import { request as generateRequest, type KnownShape, profile } from './generate.ts';
import { INT32_MAX, INT32_MIN, type Request } from './model.ts';
import type { Encoding, HttpRequestSpec } from './reference.ts';
import { TENANT_HEADER } from './reference.ts';
import { caseRng, Rng } from './rng.ts';

export const CASE_KINDS = [
  'valid-protobuf',
  'valid-json',
  'corrupt-protobuf',
  'corrupt-json',
  'http',
  'random',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

const KIND_WEIGHTS: readonly (readonly [number, CaseKind])[] = [
  [34, 'valid-protobuf'],
  [24, 'valid-json'],
  [20, 'corrupt-protobuf'],
  [13, 'corrupt-json'],
  [6, 'http'],
  [3, 'random'],
];

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface FuzzCase {
  readonly seed: number;
  readonly index: number;
  readonly kind: CaseKind;
  readonly tenant: string;
  /** Variant, corruption or HTTP twist, for reports. */
  readonly detail: string;
  readonly request: HttpRequestSpec;
  /** Valid cases: the request the body encodes (the oracle's independent model). */
  readonly model: Request | undefined;
  readonly encoding: Encoding;
  /** Known-bug shapes and notable features the case carries (for attributing failures). */
  readonly features: readonly string[];
  /** Recreates the body from a (smaller) model with the same encoding choices: for shrinking. */
  readonly reencode: ((model: Request, tenant: string) => HttpRequestSpec) | undefined;
}

const CONTENT_TYPE: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** The tenant of case `index`: unique; sometimes non-ASCII (sent as UTF-8 bytes) or at the length limit. */
export function tenantOf(seed: number, index: number, rng: Rng): string {
  const base = `fz${seed.toString(36)}-${index}`;
  return rng.weighted<() => string>([
    [90, () => base],
    [6, () => `${base}-ü日本😀`],
    [4, () => `${base}-`.padEnd(128, 'x')],
  ])();
}

/** A header value carrying `text` as UTF-8 bytes (Node sends header strings as latin1). */
export function headerValue(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

interface Compression {
  readonly header: string | undefined;
  readonly apply: (body: Uint8Array) => Uint8Array;
}

function compression(rng: Rng): Compression {
  return rng.weighted<() => Compression>([
    [80, () => ({ header: undefined, apply: (b) => b })],
    [10, () => ({ header: rng.pick(['gzip', 'GZIP', ' gzip ']), apply: (b) => gzipSync(b) })],
    [5, () => ({ header: 'deflate', apply: (b) => deflateSync(b) })],
    [5, () => ({ header: 'identity', apply: (b) => b })],
  ])();
}

function spec(
  encoding: Encoding,
  tenant: string,
  body: Uint8Array,
  c: Compression,
  contentType?: string,
): HttpRequestSpec {
  const headers: Record<string, string> = {
    'content-type': contentType ?? CONTENT_TYPE[encoding],
    [TENANT_HEADER]: headerValue(tenant),
  };
  if (c.header !== undefined) headers['content-encoding'] = c.header;
  return { method: 'POST', headers, body: c.apply(body) };
}

/** Features of a model worth naming when a case fails (shapes of bugs known to the project). */
export function modelFeatures(model: Request): string[] {
  const features = new Set<string>();
  for (const resource of model.resources) {
    for (const scope of resource.scopes) {
      for (const metric of scope.metrics) {
        const data = metric.data;
        if (data.kind === 'none') continue;
        for (const p of data.points) {
          if ((p.time ?? 0n) >= 2n ** 63n || (p.start ?? 0n) >= 2n ** 63n) features.add('time ≥ 2^63');
        }
        if (data.kind === 'exponentialHistogram') {
          for (const p of data.points) {
            for (const side of [p.positive, p.negative]) {
              if (side?.offset === INT32_MIN) features.add('exp offset −2^31');
              if (side !== undefined && side.offset + side.counts.length - 1 >= INT32_MAX - 1) {
                features.add('exp offset near 2^31−1');
              }
            }
          }
        }
        if (data.kind === 'sum' && data.temporality === 1) {
          const big = data.points.filter(
            (p) => p.value !== undefined && 'asDouble' in p.value && Math.abs(p.value.asDouble) >= 1e307,
          );
          if (big.length >= 2) features.add('delta sums near 1e308');
        }
      }
    }
  }
  return [...features];
}

function validCase(
  seed: number,
  index: number,
  rng: Rng,
  kind: 'valid-protobuf' | 'valid-json',
  tenant: string,
): FuzzCase {
  const { request, shapes } = generateRequest(rng);
  const encodingSeed = rng.u32();
  const c = compression(rng);
  const features = [...shapes.map((s: KnownShape) => `shape ${s}`), ...modelFeatures(request)];
  if (kind === 'valid-protobuf') {
    const drawn = randomProtobufVariant(rng);
    const variant: ProtobufVariant = { ...drawn, split: avoidSplits ? 0 : drawn.split, keepMetricData };
    const encoded = encodeProtobuf(request, variant, new Rng(encodingSeed));
    if (encoded.log.splitMetricData) features.push('Metric data field split in two');
    const reencode = (model: Request, t: string) =>
      spec('protobuf', t, encodeProtobuf(model, variant, new Rng(encodingSeed)).bytes, c);
    return {
      seed,
      index,
      kind,
      tenant,
      detail: `${describeProtobufVariant(variant)}${c.header === undefined ? '' : `; ${c.header.trim()}`}`,
      request: spec('protobuf', tenant, encoded.bytes, c),
      model: request,
      encoding: 'protobuf',
      features,
      reencode,
    };
  }
  const variant: JsonVariant = randomJsonVariant(rng);
  const encoded = encodeJson(request, variant, new Rng(encodingSeed));
  const reencode = (model: Request, t: string) =>
    spec('json', t, Buffer.from(encodeJson(model, variant, new Rng(encodingSeed)).text), c);
  return {
    seed,
    index,
    kind,
    tenant,
    detail: `${describeJsonVariant(variant)}${c.header === undefined ? '' : `; ${c.header.trim()}`}`,
    request: spec('json', tenant, Buffer.from(encoded.text), c),
    model: request,
    encoding: 'json',
    features,
    reencode,
  };
}

let bomb: Uint8Array | undefined;

/** HTTP-level twists on a valid body: content types, encodings, tenants, methods. */
function httpCase(seed: number, index: number, rng: Rng, tenant: string): FuzzCase {
  const encoding: Encoding = rng.bool() ? 'protobuf' : 'json';
  const { request } = generateRequest(rng);
  const body =
    encoding === 'protobuf'
      ? encodeProtobuf(request, randomProtobufVariant(rng), rng.fork(1)).bytes
      : Buffer.from(encodeJson(request, randomJsonVariant(rng), rng.fork(2)).text);
  const plain: Compression = { header: undefined, apply: (b) => b };
  const twist = rng.pick([
    'content-type charset',
    'content-type alias',
    'content-type case',
    'content-type wrong',
    'content-type missing',
    'gzip of garbage',
    'gzip truncated',
    'encoding br',
    'gzip bomb',
    'tenant missing',
    'tenant empty',
    'tenant too long',
    'tenant invalid utf-8',
    'method GET',
  ] as const);
  let s: HttpRequestSpec;
  switch (twist) {
    case 'content-type charset':
      s = spec(encoding, tenant, body, plain, `${CONTENT_TYPE[encoding]}; charset=utf-8`);
      break;
    case 'content-type alias':
      s = spec(
        encoding,
        tenant,
        body,
        plain,
        encoding === 'protobuf' ? 'application/protobuf' : 'application/json ',
      );
      break;
    case 'content-type case':
      s = spec(encoding, tenant, body, plain, CONTENT_TYPE[encoding].toUpperCase());
      break;
    case 'content-type wrong':
      s = spec(
        encoding,
        tenant,
        body,
        plain,
        rng.pick(['text/plain', 'application/grpc', 'application/x-protobuf2', '']),
      );
      break;
    case 'content-type missing': {
      const base = spec(encoding, tenant, body, plain);
      const { 'content-type': _dropped, ...headers } = base.headers;
      s = { ...base, headers };
      break;
    }
    case 'gzip of garbage':
      s = spec(encoding, tenant, body, { header: 'gzip', apply: (b) => b });
      break;
    case 'gzip truncated':
      s = spec(encoding, tenant, body, {
        header: 'gzip',
        apply: (b) => gzipSync(b).subarray(0, rng.int(0, 20)),
      });
      break;
    case 'encoding br':
      s = spec(encoding, tenant, body, {
        header: rng.pick(['br', 'zstd', 'gzip, deflate']),
        apply: (b) => b,
      });
      break;
    case 'gzip bomb':
      // Past the body limit only once decompressed.
      bomb ??= gzipSync(Buffer.alloc(MAX_BODY_BYTES + 1024));
      s = spec(encoding, tenant, bomb, { header: 'gzip', apply: (b) => b });
      break;
    case 'tenant missing': {
      const base = spec(encoding, tenant, body, plain);
      const { [TENANT_HEADER]: _dropped, ...headers } = base.headers;
      s = { ...base, headers };
      break;
    }
    case 'tenant empty':
      s = spec(encoding, '', body, plain);
      break;
    case 'tenant too long':
      s = spec(encoding, `${tenant}-`.padEnd(129, 'y'), body, plain);
      break;
    case 'tenant invalid utf-8':
      s = spec(encoding, tenant, body, plain);
      s = { ...s, headers: { ...s.headers, [TENANT_HEADER]: `${headerValue(tenant)}\u00ff\u00fe` } };
      break;
    case 'method GET':
      s = { ...spec(encoding, tenant, body, plain), method: 'GET', body: new Uint8Array(0) };
      break;
  }
  return {
    seed,
    index,
    kind: 'http',
    tenant,
    detail: twist,
    request: s,
    model: undefined,
    encoding,
    features: [],
    reencode: undefined,
  };
}

function corruptCase(
  seed: number,
  index: number,
  rng: Rng,
  kind: 'corrupt-protobuf' | 'corrupt-json',
  tenant: string,
): FuzzCase {
  const { request } = generateRequest(rng);
  const plain: Compression = { header: undefined, apply: (b) => b };
  const c = rng.bool(0.1) ? compression(rng) : plain;
  if (kind === 'corrupt-protobuf') {
    const corruption = rng.pick(PROTOBUF_CORRUPTIONS);
    const drawn = randomProtobufVariant(rng);
    const encoded = encodeProtobuf(
      request,
      { ...drawn, split: avoidSplits ? 0 : drawn.split, keepMetricData },
      rng.fork(3),
    );
    const body = corruptProtobuf(rng, encoded.fields, corruption);
    return {
      seed,
      index,
      kind,
      tenant,
      detail: corruption,
      request: spec('protobuf', tenant, body, c),
      model: undefined,
      encoding: 'protobuf',
      features: modelFeatures(request),
      reencode: undefined,
    };
  }
  const avoided = new Set<string>([
    ...(avoidLoneSurrogates ? ['lone-surrogate'] : []),
    ...(avoidJsonBom ? ['bom'] : []),
  ]);
  const corruption = rng.pick(JSON_CORRUPTIONS.filter((k) => !avoided.has(k)));
  const encoded = encodeJson(request, randomJsonVariant(rng), rng.fork(4));
  const body = corruptJson(rng, encoded.tree, encoded.text, corruption);
  return {
    seed,
    index,
    kind,
    tenant,
    detail: corruption,
    request: spec('json', tenant, body, c),
    model: undefined,
    encoding: 'json',
    features: modelFeatures(request),
    reencode: undefined,
  };
}

function randomCase(seed: number, index: number, rng: Rng, tenant: string): FuzzCase {
  const encoding: Encoding = rng.bool() ? 'protobuf' : 'json';
  const length = rng.weighted([
    [10, 0],
    [60, rng.int(1, 256)],
    [30, rng.int(257, 65536)],
  ]);
  return {
    seed,
    index,
    kind: 'random',
    tenant,
    detail: `${length} random bytes`,
    request: spec(encoding, tenant, rng.bytes(length), { header: undefined, apply: (b) => b }),
    model: undefined,
    encoding,
    features: [],
    reencode: undefined,
  };
}

/** Inputs a campaign can leave out, to look past bugs already reported. */
export const AVOIDABLE = [
  'metric-data-split',
  'shapes',
  'time-2^63',
  'offset-int32-min',
  'split',
  'leading-bom',
  'lone-surrogate',
  'json-bom',
] as const;
export type Avoidable = (typeof AVOIDABLE)[number];

/** `--avoid known`: the bugs the issue lists (being fixed), so a campaign can look past them. */
export const KNOWN: readonly Avoidable[] = ['metric-data-split', 'shapes', 'time-2^63', 'offset-int32-min'];

export interface CaseOptions {
  readonly kinds?: readonly CaseKind[] | undefined;
  readonly avoid?: ReadonlySet<Avoidable> | undefined;
}

let avoidSplits = false;
let keepMetricData = false;
let avoidLoneSurrogates = false;
let avoidJsonBom = false;

/** Case `index` of campaign `seed`. */
export function makeCase(seed: number, index: number, options: CaseOptions = {}): FuzzCase {
  const rng = caseRng(seed, index);
  const only = options.kinds;
  profile.noLeadingBom = options.avoid?.has('leading-bom') ?? false;
  profile.noShapes = options.avoid?.has('shapes') ?? false;
  profile.noTimesPast63 = options.avoid?.has('time-2^63') ?? false;
  profile.noOffsetInt32Min = options.avoid?.has('offset-int32-min') ?? false;
  avoidSplits = options.avoid?.has('split') ?? false;
  keepMetricData = options.avoid?.has('metric-data-split') ?? false;
  avoidLoneSurrogates = options.avoid?.has('lone-surrogate') ?? false;
  avoidJsonBom = options.avoid?.has('json-bom') ?? false;
  const weights = only === undefined ? KIND_WEIGHTS : KIND_WEIGHTS.filter(([, k]) => only.includes(k));
  const kind = rng.weighted(weights);
  const tenant = tenantOf(seed, index, rng);
  switch (kind) {
    case 'valid-protobuf':
    case 'valid-json':
      return validCase(seed, index, rng, kind, tenant);
    case 'corrupt-protobuf':
    case 'corrupt-json':
      return corruptCase(seed, index, rng, kind, tenant);
    case 'http':
      return httpCase(seed, index, rng, tenant);
    case 'random':
      return randomCase(seed, index, rng, tenant);
  }
}
