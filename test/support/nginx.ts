/**
 * nginx in front of several collectors, for tests: a real nginx (Debian's `/usr/sbin/nginx`, installed on demand
 * when running as root) as a child process this process owns, configured into a directory of its own (config,
 * pid, logs, temp paths), listening on 127.0.0.1 only, with an access log that says which collector answered
 * each request. Routing by tenant (consistent hash of the tenant header, else of the API key) or round-robin;
 * upstreams and routing change by rewriting the config and reloading, and a change is waited for until every
 * new connection sees it and every old worker is gone.
 *
 * The production counterpart, with what each setting is for: `deploy/nginx.conf`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../packages/collector/test/support/collector-process.ts';

const run = promisify(execFile);

export const NGINX_BIN = '/usr/sbin/nginx';

/** `tenant-hash`: consistent hash of the tenant header (else the API key); `round-robin`: nginx's default. */
export type NginxRouting = 'tenant-hash' | 'round-robin';

export interface NginxOptions {
  /** nginx's own directory: config, pid, logs and temp paths go here (created if missing). */
  readonly dir: string;
  /** OTLP/HTTP addresses of the collectors, `host:port`. */
  readonly upstreams: readonly string[];
  /** OTLP/gRPC addresses of the collectors, `host:port`: when given, a second (HTTP/2 cleartext) listener. */
  readonly grpcUpstreams?: readonly string[];
  readonly routing?: NginxRouting;
  /** The collectors' `TALLYHOUSE_TENANT_HEADER`. */
  readonly tenantHeader?: string;
}

/** One proxied request, from the access log (the generation probe is not logged). */
export interface NginxAccessEntry {
  readonly method: string;
  readonly uri: string;
  /** `HTTP/1.1`, `HTTP/2.0` (gRPC). */
  readonly protocol: string;
  /** The tenant header as received (`''` when absent). */
  readonly tenant: string;
  /** What the request was hashed on: the tenant header, else the API key (test keys only: this logs them). */
  readonly key: string;
  /** `host:port` of each collector tried, `, `-separated when nginx passed the request on. */
  readonly upstream: string;
  readonly status: number;
  readonly upstreamStatus: string;
}

export interface Nginx {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1/metrics` */
  readonly metricsUrl: string;
  /** The gRPC listener's port, when `grpcUpstreams` was given. */
  readonly grpcPort: number | undefined;
  /** `http://127.0.0.1:<grpcPort>`, for the stock OTLP/gRPC exporter. */
  readonly grpcUrl: string | undefined;
  readonly dir: string;
  readonly pid: number | undefined;
  /** Rewrites the upstreams (and the gRPC ones, when given), reloads, waits until the reload took effect. */
  setUpstreams(upstreams: readonly string[], grpcUpstreams?: readonly string[]): Promise<void>;
  /** Switches the routing, reloads, waits until the reload took effect. */
  setRouting(routing: NginxRouting): Promise<void>;
  accessLog(): NginxAccessEntry[];
  errorLog(): string;
  /** Fast shutdown (SIGTERM), then SIGKILL to its process group if anything is left. */
  stop(): Promise<void>;
}

/**
 * The nginx binary: `/usr/sbin/nginx`, else `nginx` on the PATH. Missing and root: installs Debian's package
 * (`nginx-light`, else `nginx`) without starting any service; missing otherwise: throws saying how to install.
 */
export async function ensureNginx(): Promise<string> {
  const found = findNginx();
  if (found !== undefined) return found;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new Error(
      `nginx is needed for this test and was not found (${NGINX_BIN} or on PATH); install it, e.g. as root on ` +
        'Debian: apt-get update && apt-get install -y --no-install-recommends nginx-light',
    );
  // policy-rc.d exit 101: the package's postinst must not start a system nginx on port 80.
  const script = `set -e
    export DEBIAN_FRONTEND=noninteractive
    cleanup=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      cleanup=1
    fi
    status=0
    { apt-get update -qq && { apt-get install -y -qq --no-install-recommends nginx-light ||
        apt-get install -y -qq --no-install-recommends nginx; }; } || status=$?
    if [ -n "$cleanup" ]; then rm -f /usr/sbin/policy-rc.d; fi
    exit $status`;
  try {
    await run('/bin/sh', ['-c', script], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`installing nginx failed: ${(error as Error).message}\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
  const installed = findNginx();
  if (installed === undefined) throw new Error(`apt-get installed nginx, but ${NGINX_BIN} is still missing`);
  return installed;
}

function findNginx(): string | undefined {
  if (existsSync(NGINX_BIN)) return NGINX_BIN;
  for (const dir of (process.env.PATH ?? '').split(delimiter))
    if (dir !== '' && existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  return undefined;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** SIGKILL to the process group (master and workers: the master runs in a session of its own). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that forgot stop(), or threw before it: no nginx outlives this process (its workers included).
  process.once('exit', () => {
    for (const child of running) killGroup(child);
  });
}

interface ConfigState {
  upstreams: readonly string[];
  grpcUpstreams: readonly string[] | undefined;
  routing: NginxRouting;
  generation: number;
}

/** Starts nginx (installing it first if needed and allowed) and waits until it answers. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const bin = await ensureNginx();
  const dir = options.dir;
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const headerVariable = headerVariableOf(options.tenantHeader ?? 'x-tenant-id');
  const confPath = join(dir, 'nginx.conf');
  const errorLogPath = join(dir, 'error.log');
  const accessLogPath = join(dir, 'access.log');
  const state: ConfigState = {
    upstreams: checkedUpstreams(options.upstreams),
    grpcUpstreams: options.grpcUpstreams === undefined ? undefined : checkedUpstreams(options.grpcUpstreams),
    routing: options.routing ?? 'tenant-hash',
    generation: 1,
  };
  installExitHook();

  let child: ChildProcess | undefined;
  let port = 0;
  let grpcPort: number | undefined;
  // The ports are free when picked but not reserved: another process may take one first; then pick again.
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort();
    grpcPort = state.grpcUpstreams === undefined ? undefined : await freePort();
    const ports = { port, grpcPort };
    writeFileSync(confPath, renderConfig(dir, ports, headerVariable, state));
    const logBefore = readIfExists(errorLogPath).length;
    const started = spawn(bin, ['-p', `${dir}/`, '-c', confPath, '-e', errorLogPath], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    started.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    running.add(started);
    started.once('exit', () => running.delete(started));
    const ready = await waitForGeneration(port, state.generation, 15_000, () => isRunning(started));
    if (ready) {
      child = started;
      break;
    }
    killGroup(started);
    const log = readIfExists(errorLogPath).slice(logBefore);
    if (!/Address already in use/.test(log + output) || attempt >= 5)
      throw new Error(`nginx did not start (exit ${started.exitCode}):\n${output}\n${log}`);
  }
  const master = child;

  const reload = async () => {
    state.generation++;
    writeFileSync(confPath, renderConfig(dir, { port, grpcPort }, headerVariable, state));
    try {
      await run(bin, ['-t', '-q', '-p', `${dir}/`, '-c', confPath, '-e', errorLogPath], { timeout: 30_000 });
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`nginx refused config generation ${state.generation}: ${stderr ?? error}`);
    }
    if (!isRunning(master) || master.pid === undefined) throw new Error('nginx is not running');
    const oldWorkers = childPids(master.pid);
    // What `nginx -s reload` sends, to the master we own: new workers on the new config, old ones drain and go.
    process.kill(master.pid, 'SIGHUP');
    if (!(await waitForGeneration(port, state.generation, 15_000, () => isRunning(master))))
      throw new Error(
        `nginx did not take config generation ${state.generation}:\n${readIfExists(errorLogPath)}`,
      );
    const until = Date.now() + 15_000;
    while (oldWorkers.some((pid) => existsSync(`/proc/${pid}`))) {
      if (Date.now() > until)
        throw new Error(`nginx workers ${oldWorkers.join(', ')} did not exit after reload`);
      await sleep(25);
    }
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${port}/v1/metrics`,
    grpcPort,
    grpcUrl: grpcPort === undefined ? undefined : `http://127.0.0.1:${grpcPort}`,
    dir,
    pid: master.pid,
    async setUpstreams(upstreams, grpcUpstreams) {
      state.upstreams = checkedUpstreams(upstreams);
      if (grpcUpstreams !== undefined) {
        if (state.grpcUpstreams === undefined)
          throw new Error('this nginx was started without a gRPC listener');
        state.grpcUpstreams = checkedUpstreams(grpcUpstreams);
      }
      await reload();
    },
    async setRouting(routing) {
      state.routing = routing;
      await reload();
    },
    accessLog: () =>
      readIfExists(accessLogPath)
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const raw = JSON.parse(line) as Record<string, string>;
          return {
            method: raw.method ?? '',
            uri: raw.uri ?? '',
            protocol: raw.protocol ?? '',
            tenant: raw.tenant ?? '',
            key: raw.key ?? '',
            upstream: raw.upstream ?? '',
            status: Number(raw.status),
            upstreamStatus: raw.upstreamStatus ?? '',
          };
        }),
    errorLog: () => readIfExists(errorLogPath),
    async stop() {
      if (isRunning(master)) {
        const exited = new Promise((resolve) => master.once('exit', resolve));
        master.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
      }
      killGroup(master);
      running.delete(master);
    },
  };
}

/** `X-Tenant-Id` → `$http_x_tenant_id`, as nginx names request headers. */
function headerVariableOf(header: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(header)) throw new Error(`not a header name nginx can hash on: ${header}`);
  return `$http_${header.toLowerCase().replaceAll('-', '_')}`;
}

function checkedUpstreams(upstreams: readonly string[]): readonly string[] {
  if (upstreams.length === 0) throw new Error('nginx needs at least one upstream');
  for (const upstream of upstreams)
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(upstream)) throw new Error(`not a host:port upstream: ${upstream}`);
  return [...upstreams];
}

function renderConfig(
  dir: string,
  ports: { port: number; grpcPort: number | undefined },
  tenant: string,
  state: ConfigState,
): string {
  const path = (name: string) => JSON.stringify(join(dir, name));
  // Consistent (ketama) hashing: adding or removing one of N collectors moves about 1/N of the tenants. The same
  // key also picks the next collector when one refuses connections. Round-robin: no `hash` line.
  const balance =
    state.routing === 'tenant-hash' ? 'hash $tallyhouse_route_key consistent;' : '# round-robin';
  // Idle upstream connections close before the collector's 5 s keep-alive timeout would close them under a
  // request (a POST nginx has sent is never passed on, so that race would fail the export).
  const upstream = (name: string, servers: readonly string[]) => `
  upstream ${name} {
    ${balance}
${servers.map((server) => `    server ${server};`).join('\n')}
    keepalive 16;
    keepalive_timeout 4s;
  }`;
  const grpc =
    state.grpcUpstreams === undefined || ports.grpcPort === undefined
      ? ''
      : `${upstream('tallyhouse_grpc', state.grpcUpstreams)}
  server {
    listen 127.0.0.1:${ports.grpcPort} http2;
    client_max_body_size 16m;
    location / {
      grpc_pass grpc://tallyhouse_grpc;
      grpc_connect_timeout 2s;
      grpc_read_timeout 60s;
      grpc_send_timeout 60s;
      grpc_next_upstream error timeout;
    }
  }`;
  return `# Written by test/support/nginx.ts: config generation ${state.generation}, ${state.routing}.
daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;\n' : ''}pid ${path('nginx.pid')};
lock_file ${path('nginx.lock')};
error_log ${path('error.log')} notice;
events { worker_connections 1024; }
http {
  client_body_temp_path ${path('temp/client_body')};
  proxy_temp_path ${path('temp/proxy')};
  fastcgi_temp_path ${path('temp/fastcgi')};
  uwsgi_temp_path ${path('temp/uwsgi')};
  scgi_temp_path ${path('temp/scgi')};
  default_type application/octet-stream;
  log_format tallyhouse escape=json '{"method":"$request_method","uri":"$uri","protocol":"$server_protocol",'
    '"tenant":"${tenant}","key":"$tallyhouse_route_key","upstream":"$upstream_addr",'
    '"status":"$status","upstreamStatus":"$upstream_status"}';
  access_log ${path('access.log')} tallyhouse;

  # The tenant header (or its -bin form, gRPC), else the API key (Authorization or x-api-key).
  map "${tenant}${tenant}_bin" $tallyhouse_route_key {
    ""      "$http_authorization$http_x_api_key";
    default "${tenant}${tenant}_bin";
  }
${upstream('tallyhouse_http', state.upstreams)}
  server {
    listen 127.0.0.1:${ports.port};
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    location = /.nginx-generation {
      access_log off;
      return 200 "${state.generation}";
    }
    location / {
      proxy_pass http://tallyhouse_http;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_send_timeout 60s;
      proxy_read_timeout 60s;
      # Only failures before the request went out pass it on: without non_idempotent nginx never sends a POST
      # a collector may have received (and counted) to another one; a timeout here is the connect timeout.
      proxy_next_upstream error timeout;
    }
  }
${grpc}
}
`;
}

/** Polls the generation location over new connections until it answers `generation`. */
async function waitForGeneration(
  port: number,
  generation: number,
  timeoutMs: number,
  alive: () => boolean,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && alive()) {
    if ((await generationAt(port)) === String(generation)) return true;
    await sleep(25);
  }
  return false;
}

function generationAt(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = request(
      { host: '127.0.0.1', port, path: '/.nginx-generation', agent: false, timeout: 1_000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve(response.statusCode === 200 ? body : undefined));
        response.on('error', () => resolve(undefined));
      },
    );
    probe.on('timeout', () => probe.destroy());
    probe.on('error', () => resolve(undefined));
    probe.end();
  });
}

/** Pids whose parent is `pid` (Linux /proc; none elsewhere: the wait for old workers is then skipped). */
function childPids(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
