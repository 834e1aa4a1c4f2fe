/**
 * API-key mode over a real socket: the tenant comes from the key (plain or `sha256:` in the keys file),
 * presented as `Authorization: Bearer` or `x-api-key`; neither the tenant header nor the payload decides it.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator } from '../src/auth.ts';
import { Collector, hashApiKey } from '../src/index.ts';
import {
  decodeStatus,
  encodeRequest,
  oneSum,
  otlpRequest,
  postMetrics,
  rawHttp,
  startCollector,
  storedPoints,
  sumMetric,
  tempDir,
  totalRowsWritten,
} from './support.ts';

const dir = tempDir('auth');
const PLAIN_KEY = 'plain-key-0123456789';
const HASHED_KEY = 'hashed-key-abcdefghij';
// Non-ASCII keys: `à` is C3 A0 in UTF-8, and A0 read as latin1 is an NBSP, which a naive `\S+` stops at.
const UTF8_PLAIN_KEY = 'clé-à-ключ-🔑-0123456789';
const UTF8_HASHED_KEY = 'schlüssel-密钥-abcdefghij';
const keysFile = join(dir, 'keys.json');

let collector: Collector;
let port: number;

beforeAll(async () => {
  writeFileSync(
    keysFile,
    JSON.stringify({
      [PLAIN_KEY]: 'acme',
      // Upper-case hex is accepted: hashes are compared case-insensitively.
      [`sha256:${createHash('sha256').update(HASHED_KEY).digest('hex').toUpperCase()}`]: 'globex',
      [UTF8_PLAIN_KEY]: 'initech',
      [hashApiKey(UTF8_HASHED_KEY)]: 'umbrella',
    }),
  );
  ({ collector, port } = await startCollector(join(dir, 'data'), {
    env: {
      TALLYHOUSE_AUTH: 'apikey',
      TALLYHOUSE_API_KEYS_FILE: keysFile,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
    },
  }));
});

afterAll(async () => {
  await collector?.stop();
});

const total = async (tenant: string) =>
  (await storedPoints(collector, tenant)).reduce(
    (sum, p) => sum + ('value' in p.value ? p.value.value : Number.NaN),
    0,
  );

describe('API keys resolve the tenant', () => {
  it('takes a plain key from the keys file as Authorization: Bearer', async () => {
    const before = await total('acme');
    const answer = await postMetrics(port, oneSum('requests', 2), 'protobuf', {
      authorization: `Bearer ${PLAIN_KEY}`,
    });
    expect(answer.status).toBe(200);
    expect((await total('acme')) - before).toBe(2);
  });

  it('takes a sha256-hashed key from the keys file as x-api-key', async () => {
    const before = await total('globex');
    const answer = await postMetrics(port, oneSum('requests', 3), 'json', { 'x-api-key': HASHED_KEY });
    expect(answer.status).toBe(200);
    expect((await total('globex')) - before).toBe(3);
  });

  it('accepts the bearer scheme in any case', async () => {
    const before = await total('globex');
    const answer = await postMetrics(port, oneSum('requests', 1), 'protobuf', {
      authorization: `bEaReR ${HASHED_KEY}`,
    });
    expect(answer.status).toBe(200);
    expect((await total('globex')) - before).toBe(1);
  });

  it('ignores the tenant header and a payload tenant.id in apikey mode', async () => {
    const before = await total('acme');
    const answer = await postMetrics(
      port,
      otlpRequest([sumMetric('requests', [{ value: 5, attributes: { 'tenant.id': 'intruder' } }])], {
        'service.name': 'checkout',
        'tenant.id': 'intruder',
      }),
      'protobuf',
      { authorization: `Bearer ${PLAIN_KEY}`, 'x-tenant-id': 'intruder' },
    );
    expect(answer.status).toBe(200);
    expect((await total('acme')) - before).toBe(5);
    expect(await storedPoints(collector, 'intruder')).toEqual([]);
  });
});

describe('non-ASCII API keys are read from the header as UTF-8 bytes, as the tenant header is', () => {
  /** A request whose key header carries the key's raw UTF-8 bytes on the wire. */
  async function postWithRawKey(header: string, value: string) {
    const body = encodeRequest(oneSum('requests', 4), 'json');
    const head = Buffer.from(
      `POST /v1/metrics HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n${header}: `,
      'latin1',
    );
    return rawHttp(port, Buffer.concat([head, Buffer.from(value, 'utf8'), Buffer.from('\r\n\r\n'), body]));
  }

  it('authenticates a plain non-ASCII key sent as Authorization: Bearer in UTF-8', async () => {
    const before = await total('initech');
    const answer = await postWithRawKey('authorization', `Bearer ${UTF8_PLAIN_KEY}`);
    expect(answer.status).toBe(200);
    expect((await total('initech')) - before).toBe(4);
  });

  it('authenticates a hashed non-ASCII key sent as x-api-key in UTF-8', async () => {
    const before = await total('umbrella');
    const answer = await postWithRawKey('x-api-key', UTF8_HASHED_KEY);
    expect(answer.status).toBe(200);
    expect((await total('umbrella')) - before).toBe(4);
  });

  it('refuses the same key sent in another encoding (latin1 bytes), which is a different key', async () => {
    const body = encodeRequest(oneSum('requests', 1), 'json');
    const answer = await rawHttp(
      port,
      Buffer.concat([
        Buffer.from(
          `POST /v1/metrics HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\nx-api-key: `,
        ),
        Buffer.from('schlüssel', 'latin1'),
        Buffer.from('\r\n\r\n'),
        body,
      ]),
    );
    expect(answer.status).toBe(401);
  });

  it('resolves the decoded key the same way without a socket', () => {
    const auth = ApiKeyAuthenticator.fromEntries([['ключ-0123456789', 'tenant-1']]);
    const asNodeReadsIt = Buffer.from('ключ-0123456789', 'utf8').toString('latin1');
    expect(auth.resolve({ 'x-api-key': [asNodeReadsIt] })).toEqual({ ok: true, tenant: 'tenant-1' });
    expect(auth.resolve({ authorization: [`Bearer ${asNodeReadsIt}`] })).toEqual({
      ok: true,
      tenant: 'tenant-1',
    });
  });
});

describe('missing or invalid keys are refused with 401', () => {
  async function expectUnauthenticated(headers: Record<string, string>, message: RegExp) {
    const rowsBefore = await totalRowsWritten(collector);
    const answer = await postMetrics(port, oneSum('requests', 1), 'json', headers);
    expect(answer.status).toBe(401);
    expect(decodeStatus(answer.body, 'json')).toEqual({ code: 16, message: expect.stringMatching(message) });
    expect(await totalRowsWritten(collector)).toBe(rowsBefore);
  }

  it('refuses an unknown key', async () => {
    await expectUnauthenticated({ authorization: 'Bearer not-a-key' }, /^invalid API key$/);
  });

  it('refuses the hash itself presented as a key', async () => {
    await expectUnauthenticated({ 'x-api-key': hashApiKey(HASHED_KEY) }, /^invalid API key$/);
  });

  it('refuses a request without a key', async () => {
    await expectUnauthenticated({}, /^missing API key: send Authorization: Bearer <key> or x-api-key$/);
  });

  it('refuses a request carrying only the tenant header', async () => {
    await expectUnauthenticated({ 'x-tenant-id': 'acme' }, /^missing API key/);
  });

  it('refuses an Authorization header of another scheme', async () => {
    await expectUnauthenticated({ authorization: `Basic ${PLAIN_KEY}` }, /^missing API key/);
  });

  it('refuses a key that differs from a valid one by its last character', async () => {
    await expectUnauthenticated({ 'x-api-key': `${PLAIN_KEY.slice(0, -1)}X` }, /^invalid API key$/);
  });
});

describe('hashApiKey', () => {
  it('prints sha256: and 64 lower-case hex digits of the UTF-8 key', () => {
    expect(hashApiKey('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashApiKey('ключ')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashApiKey('ключ')).toBe(`sha256:${createHash('sha256').update('ключ', 'utf8').digest('hex')}`);
  });

  it('produces a value the keys file accepts for that key', () => {
    const auth = ApiKeyAuthenticator.fromEntries([[hashApiKey('k1'), 'tenant-1']]);
    expect(auth.resolve({ 'x-api-key': ['k1'] })).toEqual({ ok: true, tenant: 'tenant-1' });
    expect(auth.resolve({ 'x-api-key': ['k2'] })).toEqual({ ok: false, message: 'invalid API key' });
  });
});

describe('a bad keys file is a ConfigError naming TALLYHOUSE_API_KEYS_FILE', () => {
  function writeKeys(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  it.each<[string, () => string, RegExp]>([
    ['a missing file', () => join(dir, 'does-not-exist.json'), /cannot read .*does-not-exist\.json as JSON/],
    ['text that is not JSON', () => writeKeys('not-json.json', 'key=tenant'), /cannot read .* as JSON/],
    ['a JSON array', () => writeKeys('array.json', '[["k","t"]]'), /must hold a JSON object of key → tenant/],
    ['an empty object', () => writeKeys('empty.json', '{}'), /no API keys defined/],
    ['an empty tenant', () => writeKeys('empty-tenant.json', '{"k":""}'), /tenant must not be empty/],
    ['a tenant that is a number', () => writeKeys('number.json', '{"k":7}'), /tenant must be a string/],
    ['an empty key', () => writeKeys('empty-key.json', '{"":"t"}'), /an API key is empty/],
    ['a malformed hash', () => writeKeys('bad-hash.json', '{"sha256:abc":"t"}'), /is not a sha256 hash/],
  ])('refuses %s', (_label, path, message) => {
    const file = path();
    const attempt = () =>
      new Collector({
        env: { TALLYHOUSE_AUTH: 'apikey', TALLYHOUSE_API_KEYS_FILE: file, TALLYHOUSE_LOG_LEVEL: 'silent' },
        collector: { port: 0 },
      });
    let thrown: unknown;
    try {
      attempt();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe('TALLYHOUSE_API_KEYS_FILE');
    expect((thrown as ConfigError).message).toMatch(/^TALLYHOUSE_API_KEYS_FILE: /);
    expect((thrown as ConfigError).message).toMatch(message);
  });
});
