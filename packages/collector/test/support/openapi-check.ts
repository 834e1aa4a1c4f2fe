/**
 * Checks HTTP exchanges against the usage API's OpenAPI document (`src/usage-api/openapi.ts`): the route and
 * method are documented, the request's path and query parameters fit the operation (or the answer is the
 * documented refusal), the status is documented, and the answer's content type, headers and body match it —
 * bodies with ajv's JSON Schema 2020-12 validator and ajv-formats (`date-time`, `int32`), strict mode, so a schema
 * mistake in the document fails too. A mismatch throws a `ContractViolation` naming the request, the operation,
 * the response and every schema error.
 *
 * `contractChecked(http)` wraps the tests' HTTP helper so that every answer of a route the document covers is
 * checked without touching the tests' own assertions.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import {
  HTTP_METHODS,
  type HttpMethod,
  type JsonSchema,
  type OpenApiDocument,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
  type ResponseObject,
  usageApiDocument,
} from '../../src/usage-api/openapi.ts';
import type { HttpAnswer, HttpCall } from './http-client.ts';

// ajv-formats is CommonJS: under Node's ESM loader the default import is module.exports, whose `default` is the
// plugin (the types see the same).
const addFormats = addFormatsPlugin.default;

/** A parameter, and where its schema is in the document. */
type Parameter = ParameterObject & { readonly pointer: readonly string[] };

type Headers = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** One request and its answer, as a test saw them. */
export interface Exchange {
  readonly method: string;
  /** The request target as sent: path and query string. */
  readonly path: string;
  /** The request's headers (credentials are looked for here). */
  readonly requestHeaders?: Headers;
  readonly status: number;
  /** The answer's headers, as Node gives them (lower-case names). */
  readonly headers: Headers;
  /** The answer's body: parsed JSON for a JSON content type, the text otherwise, `undefined` when empty. */
  readonly body: unknown;
}

export interface CheckOptions {
  /**
   * The test calls a route or a method the document does not have, on purpose: the answer must then be 404 (no
   * documented path) or 405 with `Allow` naming the documented methods (a documented path), with a Status body.
   */
  readonly undocumented?: boolean;
}

/** What a checked exchange was matched to. */
export interface Checked {
  readonly operationId: string;
  readonly template: string;
  /** The response key it was checked against (`200`, `400`, …). */
  readonly response: string;
  /** What of the request does not fit the document (then the answer was a documented refusal). */
  readonly requestProblems: readonly string[];
}

export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/** Statuses a request the document refuses may get: credentials and scope are checked before parameters. */
const REFUSALS_BEFORE_PARAMETERS = new Set([400, 401, 403]);
const DOCUMENT_ID = 'urn:tallyhouse:openapi';

export class OpenApiChecker {
  private readonly document: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: readonly { template: string; segments: readonly string[] }[];
  private readonly scope: ReadonlySet<string>;

  constructor(document: OpenApiDocument) {
    // A copy through JSON: the document as a client reads it (no functions, no undefined).
    this.document = JSON.parse(JSON.stringify(document)) as OpenApiDocument;
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(this.ajv);
    // The document is added whole so that `#/components/...` references resolve in it; its OpenAPI fields are
    // containers, not keywords.
    this.ajv.addVocabulary(['openapi', 'jsonSchemaDialect', 'info', 'servers', 'tags', 'security', 'paths']);
    this.ajv.addVocabulary(['components']);
    this.ajv.addSchema({ ...this.document, $id: DOCUMENT_ID });
    this.templates = Object.keys(this.document.paths).map((template) => ({
      template,
      segments: template.split('/'),
    }));
    // The routes the document speaks for: a path is in scope when its first two segments are a documented path's.
    this.scope = new Set(Object.keys(this.document.paths).map(scopeOf));
    this.compileEverySchema();
  }

  /**
   * A value against one of the document's component schemas (e.g. each line of a JSON-lines answer, which the
   * media type alone cannot describe); throws a `ContractViolation` naming every mismatch.
   */
  checkComponent(name: string, value: unknown): void {
    if (!(name in this.document.components.schemas)) {
      throw new ContractViolation(`the document has no schema ${JSON.stringify(name)}`);
    }
    const problems = this.schemaProblems(['components', 'schemas', name], value);
    if (problems.length > 0) {
      throw new ContractViolation(
        `${name}: the value does not match the document:\n  ${problems.join('\n  ')}\n  value: ${excerpt(value)}`,
      );
    }
  }

  /** Whether `path` (with or without a query) is under a route the document covers. */
  covers(path: string): boolean {
    return this.scope.has(scopeOf(new URL(path, 'http://checker').pathname));
  }

  /** Checks one exchange; throws a `ContractViolation` naming every mismatch. */
  check(exchange: Exchange, options: CheckOptions = {}): Checked {
    const label = `${exchange.method} ${exchange.path} → ${exchange.status}`;
    const url = new URL(exchange.path, 'http://checker');
    const match = this.match(url.pathname);
    const method = exchange.method.toLowerCase() as HttpMethod;
    const operation = match?.item[method];
    if (match === undefined || operation === undefined) {
      this.checkUndocumented(label, exchange, match?.item, options);
      return { operationId: '', template: match?.template ?? '', response: '', requestProblems: [] };
    }
    if (options.undocumented === true) {
      throw new ContractViolation(
        `${label}: called as undocumented, but the document has ${method.toUpperCase()} ${match.template}`,
      );
    }
    const where = `${label} (operation ${operation.operationId}, ${method.toUpperCase()} ${match.template})`;
    const requestProblems = [
      ...this.pathProblems(this.parameters(match.template, method), match.template, url.pathname),
      ...this.queryProblems(this.parameters(match.template, method), url.searchParams),
    ];
    if (requestProblems.length > 0 && !REFUSALS_BEFORE_PARAMETERS.has(exchange.status)) {
      throw new ContractViolation(
        `${where}: the request does not fit the document, yet was answered ${exchange.status} ` +
          `(expected a documented 400):\n  ${requestProblems.join('\n  ')}`,
      );
    }
    const key = responseKey(operation, exchange.status);
    if (key === undefined) {
      throw new ContractViolation(
        `${where}: status ${exchange.status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`,
      );
    }
    if (exchange.status >= 200 && exchange.status < 300) this.checkCredentials(where, operation, exchange);
    const pointer = ['paths', match.template, method, 'responses', key];
    this.checkResponse(`${where}, response ${key}`, pointer, exchange);
    return { operationId: operation.operationId, template: match.template, response: key, requestProblems };
  }

  /** An exchange outside the document: only allowed on purpose, and then it must be the documented refusal. */
  private checkUndocumented(
    label: string,
    exchange: Exchange,
    item: PathItemObject | undefined,
    options: CheckOptions,
  ): void {
    if (options.undocumented !== true) {
      throw new ContractViolation(
        item === undefined
          ? `${label}: no path of the document matches ${new URL(exchange.path, 'http://checker').pathname}`
          : `${label}: the document has no ${exchange.method} for this path (it has ${methodsOf(item).join(', ')})`,
      );
    }
    const expected = item === undefined ? 404 : 405;
    const problems: string[] = [];
    if (exchange.status !== expected) problems.push(`expected status ${expected}, got ${exchange.status}`);
    if (item !== undefined) {
      const allow = headerValue(exchange.headers, 'allow');
      if (allow !== methodsOf(item).join(', ')) {
        problems.push(`expected Allow: ${methodsOf(item).join(', ')}, got ${String(allow)}`);
      }
    }
    if (problems.length > 0) {
      throw new ContractViolation(`${label} (undocumented on purpose):\n  ${problems.join('\n  ')}`);
    }
    // The refusal as the document's shared error answers describe it.
    const refusal = item === undefined ? 'NotFound' : 'MethodNotAllowed';
    this.checkResponse(
      `${label} (undocumented on purpose), response ${refusal}`,
      ['components', 'responses', refusal],
      exchange,
    );
  }

  private match(pathname: string) {
    const segments = pathname.split('/');
    for (const { template, segments: pattern } of this.templates) {
      if (pattern.length !== segments.length) continue;
      const fits = pattern.every((part, i) =>
        isTemplated(part) ? (segments[i] ?? '') !== '' : part === segments[i],
      );
      if (fits) return { template, item: this.document.paths[template] as PathItemObject };
    }
    return undefined;
  }

  /** The operation's parameters, each with where its schema is in the document. */
  private parameters(template: string, method: HttpMethod): Parameter[] {
    const operation = this.document.paths[template]?.[method] as OperationObject;
    return (operation.parameters ?? []).map((declared, i) => {
      const pointer =
        '$ref' in declared
          ? this.refPointer(declared.$ref)
          : ['paths', template, method, 'parameters', String(i)];
      return { ...(this.at(pointer) as ParameterObject), pointer: [...pointer, 'schema'] };
    });
  }

  private pathProblems(parameters: readonly Parameter[], template: string, pathname: string): string[] {
    const segments = pathname.split('/');
    const problems: string[] = [];
    template.split('/').forEach((part, i) => {
      if (!isTemplated(part)) return;
      const name = part.slice(1, -1);
      const parameter = parameters.find((p) => p.in === 'path' && p.name === name);
      if (parameter === undefined) {
        problems.push(`path parameter {${name}} is not declared`);
        return;
      }
      let value: string;
      try {
        value = decodeURIComponent(segments[i] ?? '');
      } catch {
        problems.push(`path parameter ${name}: ${JSON.stringify(segments[i])} is not valid percent-encoding`);
        return;
      }
      problems.push(...this.valueProblems(`path parameter ${name}`, parameter, value));
    });
    return problems;
  }

  /**
   * Each query parameter is one the operation declares, given once unless its schema is an array; `attr.<key>`
   * style names belong to an exploded form-object parameter whose `propertyNames` they match (a repeated key
   * being any of several values, each value is checked). Required ones are present; every value fits its schema.
   */
  private queryProblems(parameters: readonly Parameter[], search: URLSearchParams): string[] {
    const declared = parameters.filter((p) => p.in === 'query');
    const objects = declared.filter(isExplodedObject);
    const given = new Map<string, string[]>();
    const problems: string[] = [];
    for (const [name, value] of search) {
      const direct = declared.find((p) => p.name === name && !isExplodedObject(p));
      const owner = direct ?? objects.find((p) => this.propertyNameFits(p, name));
      if (owner === undefined) {
        problems.push(
          `query parameter ${JSON.stringify(name)} is not in the document (${declared.map((p) => p.name).join(', ')})`,
        );
        continue;
      }
      if (isExplodedObject(owner)) {
        problems.push(...this.valueProblems(`query parameter ${name}`, owner, { [name]: value }));
        continue;
      }
      given.set(name, [...(given.get(name) ?? []), value]);
    }
    for (const parameter of declared) {
      if (isExplodedObject(parameter)) continue;
      const values = given.get(parameter.name) ?? [];
      if (values.length === 0) {
        if (parameter.required === true) problems.push(`query parameter ${parameter.name} is required`);
        continue;
      }
      const type = this.typeOf(parameter.schema);
      if (type === 'array') {
        problems.push(...this.valueProblems(`query parameter ${parameter.name}`, parameter, values));
      } else if (values.length > 1) {
        problems.push(
          `query parameter ${parameter.name} is given ${values.length} times; it takes one value`,
        );
      } else {
        const value = coerce(values[0] as string, type);
        problems.push(...this.valueProblems(`query parameter ${parameter.name}`, parameter, value));
      }
    }
    return problems;
  }

  private propertyNameFits(parameter: Parameter, name: string): boolean {
    const names = (parameter.schema as { propertyNames?: JsonSchema }).propertyNames;
    return names === undefined || this.validator([...parameter.pointer, 'propertyNames'])(name);
  }

  private valueProblems(what: string, parameter: Parameter, value: unknown): string[] {
    return this.schemaProblems(parameter.pointer, value).map(
      (problem) => `${what} = ${JSON.stringify(value)}: ${problem}`,
    );
  }

  private checkCredentials(where: string, operation: OperationObject, exchange: Exchange): void {
    const requirements = operation.security ?? this.document.security;
    if (requirements.length === 0) return;
    const schemes = this.document.components.securitySchemes as Record<
      string,
      { type: string; scheme?: string; name?: string }
    >;
    const satisfied = requirements.some((requirement) =>
      Object.keys(requirement).every((name) => {
        const scheme = schemes[name];
        if (scheme === undefined) return false;
        if (scheme.type === 'http') {
          const authorization = String(headerValue(exchange.requestHeaders ?? {}, 'authorization') ?? '');
          return authorization.toLowerCase().startsWith(`${scheme.scheme ?? ''} `);
        }
        return headerValue(exchange.requestHeaders ?? {}, scheme.name ?? '') !== undefined;
      }),
    );
    if (!satisfied) {
      throw new ContractViolation(
        `${where}: answered ${exchange.status} to a request without documented credentials`,
      );
    }
  }

  private checkResponse(where: string, pointer: string[], exchange: Exchange): void {
    const declared = this.at(pointer) as ResponseObject;
    const base = '$ref' in declared ? this.refPointer((declared as { $ref: string }).$ref) : pointer;
    const answer = this.at(base) as ResponseObject;
    const problems: string[] = [];
    for (const [name, declaredHeader] of Object.entries(answer.headers ?? {})) {
      const headerPointer =
        '$ref' in declaredHeader ? this.refPointer(declaredHeader.$ref) : [...base, 'headers', name];
      const spec = this.at(headerPointer) as { required?: boolean; schema: JsonSchema };
      const value = headerValue(exchange.headers, name.toLowerCase());
      if (value === undefined) {
        if (spec.required === true) problems.push(`header ${name} is missing`);
        continue;
      }
      const typed = coerce(String(value), this.typeOf(spec.schema));
      for (const problem of this.schemaProblems([...headerPointer, 'schema'], typed)) {
        problems.push(`header ${name}: ${JSON.stringify(value)}: ${problem}`);
      }
    }
    const content = answer.content ?? {};
    const mediaTypes = Object.keys(content);
    if (mediaTypes.length === 0) {
      if (exchange.body !== undefined) problems.push('a body where the document has none');
    } else {
      const contentType = String(headerValue(exchange.headers, 'content-type') ?? '');
      const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
      if (!mediaTypes.includes(essence)) {
        problems.push(
          `content type ${JSON.stringify(contentType)} is not documented (${mediaTypes.join(', ')})`,
        );
      } else {
        problems.push(...this.schemaProblems([...base, 'content', essence, 'schema'], exchange.body));
      }
    }
    if (problems.length > 0) {
      throw new ContractViolation(
        `${where}: the answer does not match the document:\n  ${problems.join('\n  ')}\n  body: ${excerpt(exchange.body)}`,
      );
    }
  }

  /** The schema errors of `value` against the schema at `pointer`, one readable line each. */
  private schemaProblems(pointer: readonly string[], value: unknown): string[] {
    const validate = this.validator(pointer);
    if (validate(value)) return [];
    return (validate.errors ?? []).slice(0, 20).map(describeError);
  }

  private validator(pointer: readonly string[]): ValidateFunction {
    const fragment = pointer.map((part) => encodeURIComponent(part.replace(/~/g, '~0').replace(/\//g, '~1')));
    const ref = `${DOCUMENT_ID}#/${fragment.join('/')}`;
    let validate = this.validators.get(ref);
    if (validate === undefined) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate;
  }

  /** Compiles every schema of the document at once, so a schema ajv's strict mode refuses fails early. */
  private compileEverySchema(): void {
    const { components } = this.document;
    for (const name of Object.keys(components.schemas)) this.validator(['components', 'schemas', name]);
    for (const name of Object.keys(components.parameters))
      this.validator(['components', 'parameters', name, 'schema']);
    for (const name of Object.keys(components.headers))
      this.validator(['components', 'headers', name, 'schema']);
    for (const name of Object.keys(components.responses)) {
      for (const type of Object.keys(
        (components.responses as Record<string, ResponseObject>)[name]?.content ?? {},
      )) {
        this.validator(['components', 'responses', name, 'content', type, 'schema']);
      }
    }
    for (const [template, item] of Object.entries(this.document.paths)) {
      for (const method of methodsOf(item)) {
        const operation = item[method.toLowerCase() as HttpMethod] as OperationObject;
        for (const [key, declared] of Object.entries(operation.responses)) {
          if ('$ref' in declared) continue;
          for (const type of Object.keys(declared.content ?? {})) {
            this.validator([
              'paths',
              template,
              method.toLowerCase(),
              'responses',
              key,
              'content',
              type,
              'schema',
            ]);
          }
        }
      }
    }
  }

  /** The `type` of a schema, following a top-level `$ref` (how a query or header value is read). */
  private typeOf(schema: JsonSchema): string | undefined {
    if (typeof schema !== 'object') return undefined;
    if (typeof schema.$ref === 'string')
      return this.typeOf(this.at(this.refPointer(schema.$ref)) as JsonSchema);
    return typeof schema.type === 'string' ? schema.type : undefined;
  }

  private refPointer(ref: string): string[] {
    if (!ref.startsWith('#/')) throw new Error(`only local references are supported, got ${ref}`);
    return ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'));
  }

  private at(pointer: readonly string[]): unknown {
    let node: unknown = this.document;
    for (const part of pointer) {
      node = (node as Record<string, unknown> | undefined)?.[part];
      if (node === undefined) throw new Error(`nothing at #/${pointer.join('/')} in the document`);
    }
    return node;
  }
}

let usageChecker: OpenApiChecker | undefined;

/** The checker of the collector's own document (built once per test process). */
export function usageApiChecker(): OpenApiChecker {
  usageChecker ??= new OpenApiChecker(usageApiDocument());
  return usageChecker;
}

/**
 * Checks an `http()` answer: parses a JSON body (a JSON content type must hold JSON) and checks the exchange.
 * For answers read some other way (a raw `request`), pass what was sent and received.
 */
export function checkHttpAnswer(
  call: { readonly method: string; readonly path: string; readonly headers?: Headers },
  answer: HttpAnswer,
  options: CheckOptions = {},
  checker: OpenApiChecker = usageApiChecker(),
): Checked {
  const contentType = String(answer.headers['content-type'] ?? '');
  const text = answer.body.toString('utf8');
  let body: unknown = text === '' ? undefined : text;
  if (text !== '' && /^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ContractViolation(
        `${call.method} ${call.path} → ${answer.status}: ${contentType} body is not JSON (${(error as Error).message}): ${excerpt(text)}`,
      );
    }
  }
  return checker.check(
    {
      method: call.method,
      path: call.path,
      requestHeaders: call.headers ?? {},
      status: answer.status,
      headers: answer.headers,
      body,
    },
    options,
  );
}

type HttpClient = (port: number, call?: HttpCall) => Promise<HttpAnswer>;

/**
 * The tests' `http()` with every answer of a route the document covers checked against it (others pass through:
 * `/metrics`, `/healthz`, OTLP). The third argument marks a call of an undocumented route or method on purpose.
 */
export function contractChecked(http: HttpClient, checker: OpenApiChecker = usageApiChecker()) {
  return async (port: number, call: HttpCall = {}, options: CheckOptions = {}): Promise<HttpAnswer> => {
    const answer = await http(port, call);
    if (call.path !== undefined && checker.covers(call.path)) {
      // http()'s default method.
      const method = call.method ?? 'POST';
      checkHttpAnswer(
        { method, path: call.path, headers: stringHeaders(call.headers) },
        answer,
        options,
        checker,
      );
    }
    return answer;
  };
}

function stringHeaders(headers: HttpCall['headers']): Headers {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

function scopeOf(pathname: string): string {
  return pathname.split('/').slice(0, 3).join('/');
}

function isTemplated(segment: string): boolean {
  return segment.startsWith('{') && segment.endsWith('}');
}

function isExplodedObject(parameter: ParameterObject): boolean {
  const schema = parameter.schema as { type?: unknown };
  return parameter.style === 'form' && parameter.explode === true && schema.type === 'object';
}

function methodsOf(item: PathItemObject): string[] {
  return HTTP_METHODS.filter((method) => item[method] !== undefined).map((method) => method.toUpperCase());
}

/** The documented response for a status: the exact code, then its range (`4XX`), then `default`. */
function responseKey(operation: OperationObject, status: number): string | undefined {
  const keys = Object.keys(operation.responses);
  return [String(status), `${String(status)[0]}XX`, 'default'].find((key) => keys.includes(key));
}

/** A query or header value as its schema's type reads it; text that is not that type stays text (and fails). */
function coerce(value: string, type: string | undefined): unknown {
  if (type === 'integer' && /^-?\d+$/.test(value)) return Number(value);
  if (type === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function headerValue(headers: Headers, name: string): string | number | readonly string[] | undefined {
  const found = Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase());
  return found?.[1];
}

function describeError(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(the value)' : error.instancePath;
  return `${at} ${error.message ?? error.keyword} (${error.keyword} ${JSON.stringify(error.params)}, schema ${error.schemaPath})`;
}

function excerpt(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text === undefined ? '(none)' : text.length > 400 ? `${text.slice(0, 400)}…` : text;
}
