/**
 * The gRPC listener's setting (`TALLYHOUSE_GRPC_PORT`: a port or `off`, never the HTTP port) and how gRPC
 * metadata carries the tenant to the shared authenticator: `x-tenant-id` as ASCII text, or `x-tenant-id-bin` as
 * UTF-8 bytes for any other tenant; both at once is ambiguous and refused.
 */
import { Metadata } from '@grpc/grpc-js';
import { ConfigError } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { HeaderAuthenticator } from '../../src/auth.ts';
import { loadCollectorConfig } from '../../src/config.ts';
import { metadataHeaders } from '../../src/grpc/metadata.ts';

describe('TALLYHOUSE_GRPC_PORT', () => {
  const grpcPort = (value: string | undefined) =>
    loadCollectorConfig({ TALLYHOUSE_GRPC_PORT: value }).collector.grpcPort;

  it('defaults to 4317, takes a port, and off (any case) turns gRPC off', () => {
    expect(grpcPort(undefined)).toBe(4317);
    expect(grpcPort(' 14317 ')).toBe(14317);
    expect(grpcPort('off')).toBe('off');
    expect(grpcPort('OFF')).toBe('off');
  });

  it.each([
    ['abc', /^TALLYHOUSE_GRPC_PORT: expected a port 1-65535 or off, got "abc"/],
    ['0', /^TALLYHOUSE_GRPC_PORT: expected a positive integer, got "0"/],
    ['70000', /^TALLYHOUSE_GRPC_PORT: .*65535/],
    ['4318', /^TALLYHOUSE_GRPC_PORT: 4318 is TALLYHOUSE_PORT too/],
  ])('refuses %j naming the variable', (value, message) => {
    let thrown: unknown;
    try {
      grpcPort(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(message);
  });
});

describe('tenant metadata', () => {
  const auth = new HeaderAuthenticator('x-tenant-id');
  const resolve = (fill: (metadata: Metadata) => void) => {
    const metadata = new Metadata();
    fill(metadata);
    return auth.resolve(metadataHeaders(metadata, 'x-tenant-id'));
  };

  it('reads the ASCII header, and any tenant from the binary header as UTF-8', () => {
    expect(resolve((m) => m.set('x-tenant-id', 'acme'))).toEqual({ ok: true, tenant: 'acme' });
    expect(resolve((m) => m.set('x-tenant-id-bin', Buffer.from('globex-é', 'utf8')))).toEqual({
      ok: true,
      tenant: 'globex-é',
    });
    expect(resolve((m) => m.set('x-tenant-id-bin', Buffer.from('租户-Ã©', 'utf8')))).toEqual({
      ok: true,
      tenant: '租户-Ã©',
    });
  });

  it('refuses both forms at once, none, and control characters', () => {
    expect(
      resolve((m) => {
        m.set('x-tenant-id', 'acme');
        m.set('x-tenant-id-bin', Buffer.from('globex'));
      }),
    ).toEqual({ ok: false, message: 'the x-tenant-id header must appear once' });
    expect(resolve(() => {})).toEqual({ ok: false, message: 'missing tenant: send the x-tenant-id header' });
    expect(resolve((m) => m.set('x-tenant-id-bin', Buffer.from('ac\u0007me')))).toMatchObject({ ok: false });
  });

  it('passes API-key credentials through', () => {
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer k-123');
    metadata.set('x-api-key', 'k-456');
    expect(metadataHeaders(metadata, 'x-tenant-id')).toEqual({
      authorization: ['Bearer k-123'],
      'x-api-key': ['k-456'],
    });
  });
});
