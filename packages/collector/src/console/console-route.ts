/**
 * `GET /console` and `/console/*`: the web console (`@tallyhouse/console`), the files its Vite build put in its
 * dist/ at install time. App addresses (`/console/`, `/console/tenants/acme`) answer index.html (no-cache, so a
 * new build is picked up), hashed files under `assets/` are cached for a year. Every answer carries a strict
 * Content-Security-Policy (the collector's own files only, no inline script or style). The page needs no
 * credentials; the API calls it makes send the admin key. Off (404) unless TALLYHOUSE_ADMIN_KEY is set — the key
 * the console asks for — and 404 naming the fix when the build is missing.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sendStatus } from '../http/responses.ts';
import { RpcCode } from '../otlp/index.ts';

/** The console's addresses: `/console` and everything under `/console/`. */
export function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/');
}

/**
 * Only the collector's own origin, for everything; nothing inline, no plugins, never framed. `connect-src` is the
 * usage API on the same origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
/** Worth compressing (images and fonts already are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.map', '.txt']);

const ASSETS = 'assets/';
/** Vite names every file under assets/ by its content hash: it never changes under the same name. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface ConsoleRouteOptions {
  /** True when TALLYHOUSE_ADMIN_KEY is set. */
  readonly enabled: boolean;
  /** The console build's directory; undefined when the console package is not installed. */
  readonly distDir: string | undefined;
}

/** The console's dist/ next to its package.json, or undefined when `@tallyhouse/console` is not installed. */
export function findConsoleDist(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@tallyhouse/console/package.json');
    return join(dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

export class ConsoleRoute {
  private readonly enabled: boolean;
  private readonly distDir: string | undefined;
  /** Gzipped files by path, kept while the file is unchanged (the build is a few files). */
  private readonly gzipped = new Map<string, { readonly version: string; readonly body: Buffer }>();

  constructor(options: ConsoleRouteOptions) {
    this.enabled = options.enabled;
    this.distDir = options.distDir;
  }

  /** Answers one request under `/console`; resolves with the status sent. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<number> {
    request.resume();
    if (!this.enabled) {
      return sendStatus(
        response,
        404,
        RpcCode.NOT_FOUND,
        'the console is off: set TALLYHOUSE_ADMIN_KEY (the key the console asks for) to turn it on',
        'json',
      );
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return sendStatus(
        response,
        405,
        RpcCode.UNIMPLEMENTED,
        `method ${request.method} not allowed on ${request.url}; use GET`,
        'json',
      );
    }
    if (this.distDir === undefined) {
      return sendStatus(
        response,
        404,
        RpcCode.NOT_FOUND,
        'the console is not installed: the package @tallyhouse/console was not found next to the collector; ' +
          'run npm install at the repository root (it installs and builds the console)',
        'json',
      );
    }
    const index = join(this.distDir, 'index.html');
    if (!(await isFile(index))) {
      return sendStatus(
        response,
        404,
        RpcCode.NOT_FOUND,
        `the console is not built: ${index} is missing; run npm install at the repository root, or ` +
          'npm run build -w @tallyhouse/console',
        'json',
      );
    }
    const file = await this.fileOf(new URL(request.url ?? '/', 'http://collector').pathname);
    if (file === 'missing-asset') {
      return sendStatus(
        response,
        404,
        RpcCode.NOT_FOUND,
        `no console file ${request.url} (an older build's? reload the page)`,
        'json',
      );
    }
    return this.sendFile(request, response, file ?? index);
  }

  /**
   * The dist file a path names: a file under assets/, or a file at the top of dist/; undefined for the app's own
   * addresses (index.html answers them), 'missing-asset' for an asset that is not there.
   */
  private async fileOf(pathname: string): Promise<string | undefined | 'missing-asset'> {
    const rest = pathname === '/console' ? '' : pathname.slice('/console/'.length);
    let segments: string[];
    try {
      segments = rest.split('/').map((segment) => decodeURIComponent(segment));
    } catch {
      return undefined; // a malformed escape: the app shows "not found"
    }
    const isAsset = rest.startsWith(ASSETS);
    const safe = segments.every(
      (s) =>
        s !== '' && s !== '.' && s !== '..' && !s.includes('\0') && !s.includes('/') && !s.includes('\\'),
    );
    if (!safe || (!isAsset && segments.length !== 1)) return isAsset ? 'missing-asset' : undefined;
    const dist = this.distDir!;
    const path = join(dist, ...segments);
    if (!path.startsWith(dist + sep)) return isAsset ? 'missing-asset' : undefined;
    if (await isFile(path)) return path;
    return isAsset ? 'missing-asset' : undefined;
  }

  private async sendFile(request: IncomingMessage, response: ServerResponse, path: string): Promise<number> {
    const info = await stat(path);
    const extension = extname(path).toLowerCase();
    const version = `${info.size}-${Math.trunc(info.mtimeMs)}`;
    const etag = `W/"${createHash('sha1').update(`${path}:${version}`).digest('hex').slice(0, 16)}"`;
    const immutable = path.startsWith(join(this.distDir!, ASSETS));
    const headers: Record<string, string | number> = {
      ...SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
      'cache-control': immutable ? IMMUTABLE : 'no-cache',
      etag,
    };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers);
      response.end();
      return 304;
    }
    let body: Buffer = await readFile(path);
    if (COMPRESSIBLE.has(extension)) {
      headers.vary = 'accept-encoding';
      if (acceptsGzip(request.headers['accept-encoding'])) {
        body = this.gzip(path, version, body);
        headers['content-encoding'] = 'gzip';
      }
    }
    headers['content-length'] = body.byteLength;
    response.writeHead(200, headers);
    response.end(request.method === 'HEAD' ? undefined : body);
    return 200;
  }

  private gzip(path: string, version: string, body: Buffer): Buffer {
    const cached = this.gzipped.get(path);
    if (cached?.version === version) return cached.body;
    const compressed = gzipSync(body, { level: 9 });
    // A rebuild leaves old names behind in this map only until the next few requests: keep it small.
    if (this.gzipped.size >= 64) this.gzipped.clear();
    this.gzipped.set(path, { version, body: compressed });
    return compressed;
  }
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** One route per collector (its settings object), the console build found once per process. */
const routes = new WeakMap<object, ConsoleRoute>();
let dist: { readonly dir: string | undefined } | undefined;

/** Answers a `/console` request for a collector whose settings have `adminKeyHash` (or none). */
export function serveConsole(
  request: IncomingMessage,
  response: ServerResponse,
  settings: { readonly adminKeyHash: string | undefined },
): Promise<number> {
  let route = routes.get(settings);
  if (route === undefined) {
    dist ??= { dir: findConsoleDist() };
    route = new ConsoleRoute({ enabled: settings.adminKeyHash !== undefined, distDir: dist.dir });
    routes.set(settings, route);
  }
  return route.handle(request, response);
}
