/**
 * The collector serves the console at /console: the built files with their content types and caching, a strict
 * Content-Security-Policy, index.html for the app's addresses, JSON 404s when the console is off, when the build
 * is missing and for files that are not there — over a real socket, from a real collector.
 */

import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The route itself, to serve a console build that is not there (the collector finds the real one).
import { ConsoleRoute } from '../../collector/src/console/console-route.ts';
import { CONSOLE_ROOT } from './support/build-console.ts';
import { type RunningCollector, startCollector } from './support/collector.ts';
import { startCollectorProcess } from './support/collector-process.ts';
import { rawRequest } from './support/http-get.ts';

const DIST = join(CONSOLE_ROOT, 'dist');
const indexHtml = () => readFileSync(join(DIST, 'index.html'), 'utf8');
/** The files index.html names: `/console/assets/…` and the icon. */
const referenced = () => [...indexHtml().matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);

let running: RunningCollector;

beforeAll(async () => {
  running = await startCollector();
});
afterAll(async () => {
  await running?.stop();
});

describe('with the admin key set', () => {
  it('answers index.html at /console, /console/ and the app addresses, never cached, with a strict CSP', async () => {
    for (const path of [
      '/console',
      '/console/',
      '/console/tenants/acme',
      '/console/tenants/caf%C3%A9%2Feu?metric=x',
    ]) {
      const answer = await rawRequest(running.port, path);
      expect(answer.status, path).toBe(200);
      expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(answer.headers['cache-control']).toBe('no-cache');
      expect(answer.body.toString('utf8')).toBe(indexHtml());
      const csp = String(answer.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('ships no inline script or style (the CSP would block it) and loads nothing from elsewhere', () => {
    const html = indexHtml();
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc="\/console\//);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(referenced().length).toBeGreaterThanOrEqual(2);
  });

  it('serves every file index.html names, hashed assets cached for a year, with their content types', async () => {
    const types: Record<string, string> = {
      '.js': 'text/javascript; charset=utf-8',
      '.css': 'text/css; charset=utf-8',
      '.svg': 'image/svg+xml',
    };
    for (const path of referenced()) {
      const answer = await rawRequest(running.port, path);
      expect(answer.status, path).toBe(200);
      expect(answer.headers['content-type']).toBe(types[path.slice(path.lastIndexOf('.'))]);
      expect(answer.body.equals(readFileSync(join(DIST, path.slice('/console/'.length))))).toBe(true);
      expect(answer.headers['cache-control']).toBe(
        path.startsWith('/console/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      expect(answer.headers['content-security-policy']).toBeDefined();
    }
  });

  it('gzips text for clients that take it, and answers 304 to a matching ETag', async () => {
    const script = referenced().find((path) => path.endsWith('.js'))!;
    const plain = await rawRequest(running.port, script);
    const gzipped = await rawRequest(running.port, script, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(gzipped.body.byteLength).toBeLessThan(plain.body.byteLength / 2);
    const refused = await rawRequest(running.port, script, { headers: { 'accept-encoding': 'gzip;q=0' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    const index = await rawRequest(running.port, '/console/');
    expect(index.headers.etag).toMatch(/^W\/"[0-9a-f]+"$/);
    const again = await rawRequest(running.port, '/console/', {
      headers: { 'if-none-match': String(index.headers.etag) },
    });
    expect(again.status).toBe(304);
    expect(again.body.byteLength).toBe(0);
  });

  it('answers HEAD without a body and refuses other methods with 405 naming GET', async () => {
    const head = await rawRequest(running.port, '/console/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.byteLength).toBe(0);
    const post = await rawRequest(running.port, '/console/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(post.body.toString('utf8'))).toEqual({
      code: 12,
      message: 'method POST not allowed on /console/; use GET',
    });
  });

  it('answers 404 JSON for an asset that is not there, and never serves a file outside the build', async () => {
    const missing = await rawRequest(running.port, '/console/assets/index-00000000.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json');
    expect(JSON.parse(missing.body.toString('utf8')).message).toMatch(
      /^no console file \/console\/assets\/index-00000000\.js/,
    );
    for (const path of [
      '/console/assets/..%2F..%2Fpackage.json',
      '/console/assets/%2e%2e/%2e%2e/package.json',
      '/console/assets/../../package.json',
    ]) {
      const answer = await rawRequest(running.port, path);
      expect(answer.body.toString('utf8'), path).not.toContain('"@tallyhouse/console"');
      expect([404, 200]).toContain(answer.status);
    }
    // Outside assets/, an unknown name is an app address: index.html, not the file.
    const outside = await rawRequest(running.port, '/console/..%2Fpackage.json');
    expect(outside.body.toString('utf8')).toBe(indexHtml());
  });

  it('counts console requests under one route label', async () => {
    await rawRequest(running.port, '/console/tenants/some-tenant');
    const metrics = await (await fetch(`${running.origin}/metrics`)).text();
    expect(metrics).toMatch(/tallyhouse_http_requests_total\{route="\/console",status="200"\} \d+/);
    expect(metrics).not.toContain('some-tenant');
  });
});

describe('off, or not built', () => {
  it('is off without TALLYHOUSE_ADMIN_KEY: 404 JSON saying how to turn it on', async () => {
    // As `npm start` runs it, in a process of its own, with no admin key.
    const off = await startCollectorProcess({});
    try {
      for (const path of ['/console', '/console/', '/console/assets/x.js']) {
        const answer = await rawRequest(off.port, path);
        expect(answer.status).toBe(404);
        expect(answer.headers['content-type']).toBe('application/json');
        expect(JSON.parse(answer.body.toString('utf8'))).toEqual({
          code: 5,
          message:
            'the console is off: set TALLYHOUSE_ADMIN_KEY (the key the console asks for) to turn it on',
        });
      }
    } finally {
      await off.stop();
    }
  });

  it('answers 404 JSON naming the fix when the build is missing or the package is not installed', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tallyhouse-console-nodist-'));
    const notBuilt = new ConsoleRoute({ enabled: true, distDir: join(empty, 'dist') });
    const notInstalled = new ConsoleRoute({ enabled: true, distDir: undefined });
    for (const [route, expected] of [
      [
        notBuilt,
        /^the console is not built: .*index\.html is missing; run npm install at the repository root, or npm run build -w @tallyhouse\/console$/,
      ],
      [notInstalled, /^the console is not installed: .*run npm install at the repository root/],
    ] as const) {
      const server = createServer((request, response) => void route.handle(request, response));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const answer = await rawRequest((server.address() as AddressInfo).port, '/console/');
        expect(answer.status).toBe(404);
        const body = JSON.parse(answer.body.toString('utf8'));
        expect(body.code).toBe(5);
        expect(body.message).toMatch(expected);
      } finally {
        server.close();
      }
    }
    rmSync(empty, { recursive: true, force: true });
  });
});
