import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, tenantProblem } from '@tallyhouse/model';
import type { CollectorSettings } from './config.ts';

export type TenantResolution =
  | { readonly ok: true; readonly tenant: string }
  | { readonly ok: false; readonly message: string };

/** Request headers (or a protocol's metadata) with repeats kept apart, as `IncomingMessage.headersDistinct`. */
export type DistinctHeaders = NodeJS.Dict<string[]>;

/** Resolves the tenant of a request from its credentials; the payload never decides it (see the processor). */
export interface TenantAuthenticator {
  resolve(headers: DistinctHeaders): TenantResolution;
}

export function createAuthenticator(settings: CollectorSettings): TenantAuthenticator {
  return settings.auth === 'apikey'
    ? ApiKeyAuthenticator.fromFile(settings.apiKeysFile!)
    : new HeaderAuthenticator(settings.tenantHeader);
}

export class HeaderAuthenticator implements TenantAuthenticator {
  readonly header: string;

  constructor(header: string) {
    this.header = header.toLowerCase();
  }

  resolve(headers: DistinctHeaders): TenantResolution {
    const values = headers[this.header];
    if (values === undefined) return { ok: false, message: `missing tenant: send the ${this.header} header` };
    if (values.length !== 1) return { ok: false, message: `the ${this.header} header must appear once` };
    const value = headerText(values[0]!);
    const problem = tenantProblem(value);
    return problem === undefined
      ? { ok: true, tenant: value }
      : { ok: false, message: `${this.header} header: ${problem}` };
  }
}

const HASH_PREFIX = 'sha256:';

export function hashApiKey(key: string): string {
  return HASH_PREFIX + createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * API key → tenant. The keys file is a JSON object mapping a key to its tenant; a key may be written as
 * `sha256:<hex>` (preferred: `tallyhouse hash-key <key>` prints it) or in plain text, which is hashed on load.
 * Only hashes are held in memory; a presented key is hashed and compared with `timingSafeEqual`.
 */
export class ApiKeyAuthenticator implements TenantAuthenticator {
  /** Digests grouped by their first byte, so a request compares against few candidates, each in constant time. */
  private readonly buckets = new Map<number, { digest: Buffer; tenant: string }[]>();

  constructor(tenantsByHash: ReadonlyMap<string, string>) {
    for (const [hash, tenant] of tenantsByHash) {
      const digest = Buffer.from(hash.slice(HASH_PREFIX.length), 'hex');
      const bucket = this.buckets.get(digest[0]!) ?? [];
      bucket.push({ digest, tenant });
      this.buckets.set(digest[0]!, bucket);
    }
  }

  static fromFile(path: string): ApiKeyAuthenticator {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(
        'TALLYHOUSE_API_KEYS_FILE',
        `cannot read ${path} as JSON: ${(error as Error).message}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', `${path} must hold a JSON object of key → tenant`);
    }
    return ApiKeyAuthenticator.fromEntries(Object.entries(parsed), path);
  }

  static fromEntries(entries: readonly [string, unknown][], source = 'API keys'): ApiKeyAuthenticator {
    const tenantsByHash = new Map<string, string>();
    for (const [key, tenant] of entries) {
      const problem = tenantProblem(tenant);
      if (problem !== undefined) throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', `${source}: ${problem}`);
      if (key.length === 0)
        throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', `${source}: an API key is empty`);
      const hash = key.startsWith(HASH_PREFIX) ? key.toLowerCase() : hashApiKey(key);
      if (!/^sha256:[0-9a-f]{64}$/.test(hash)) {
        throw new ConfigError(
          'TALLYHOUSE_API_KEYS_FILE',
          `${source}: ${JSON.stringify(key.slice(0, 16))}… is not a sha256 hash`,
        );
      }
      tenantsByHash.set(hash, tenant as string);
    }
    if (tenantsByHash.size === 0)
      throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', `${source}: no API keys defined`);
    return new ApiKeyAuthenticator(tenantsByHash);
  }

  resolve(headers: DistinctHeaders): TenantResolution {
    const key = presentedKey(headers);
    if (key === undefined) {
      return { ok: false, message: 'missing API key: send Authorization: Bearer <key> or x-api-key' };
    }
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let tenant: string | undefined;
    for (const candidate of this.buckets.get(digest[0]!) ?? []) {
      if (timingSafeEqual(candidate.digest, digest)) tenant = candidate.tenant;
    }
    return tenant === undefined ? { ok: false, message: 'invalid API key' } : { ok: true, tenant };
  }
}

/**
 * The key of `Authorization: Bearer <key>` or `x-api-key: <key>` (each must appear once), decoded as the tenant
 * header is (`headerText`), so a non-ASCII key hashes as the keys file's key does (UTF-8).
 */
export function presentedKey(headers: DistinctHeaders): string | undefined {
  const authorization = textSingle(headers.authorization);
  if (authorization !== undefined) {
    // Decoded first: as latin1, the UTF-8 bytes of some characters (à is C3 A0) include an NBSP, which \s matches.
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = textSingle(headers['x-api-key']);
  return apiKey !== undefined && apiKey.length > 0 ? apiKey : undefined;
}

function textSingle(values: string[] | undefined): string | undefined {
  const raw = single(values);
  return raw === undefined ? undefined : headerText(raw);
}

/** A header that appears exactly once; repeats are ambiguous credentials and count as absent. */
function single(values: string[] | undefined): string | undefined {
  return values?.length === 1 ? values[0] : undefined;
}

/**
 * The text of a header value as the client meant it. Node reads header bytes as latin1, one character per byte.
 * Most clients (curl, Go, browsers) send UTF-8 bytes, which decode here; Node's own HTTP client sends characters
 * up to U+00FF as single latin1 bytes, which are not valid UTF-8 and are then taken as latin1. Both ways, `é`
 * resolves to `é`. Ambiguous only for latin1 text whose bytes happen to be valid UTF-8 (`Ã©`), read as UTF-8.
 */
function headerText(raw: string): string {
  if (!/[\u0080-\u00ff]/.test(raw)) return raw;
  try {
    // ignoreBOM: a value starting with U+FEFF is another tenant (or key) than the one without it.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.from(raw, 'latin1'));
  } catch {
    return raw;
  }
}
