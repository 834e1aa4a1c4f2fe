/**
 * The real collector (`src/bin.ts`) as a child process for the fuzzer: a fresh data directory, a loopback
 * port, the write-ahead log on, a short flush interval (so flushed and unflushed data both meet a crash) and a
 * capped heap (a runaway allocation kills it in seconds instead of swapping the machine). Requests carry a
 * timeout: a hang is a finding, not a stuck run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CollectorProcess, freePort, startCollectorProcess } from '../support/collector-process.ts';
import { readStoredDump, type StoredDump } from '../support/stored-in-child.ts';
import { MAX_BODY_BYTES } from './cases.ts';
import type { HttpRequestSpec } from './reference.ts';

export interface SessionOptions {
  readonly heapMiB: number;
  readonly requestTimeoutMs: number;
  readonly readyTimeoutMs: number;
  /** Keep the data directory (for a look after a failure). */
  readonly keepDataDir: boolean;
  /** Extra collector settings (e.g. a small TALLYHOUSE_WAL_SEGMENT_BYTES to cross segments often). */
  readonly env: Readonly<Record<string, string>>;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  heapMiB: 1024,
  requestTimeoutMs: 15_000,
  readyTimeoutMs: 60_000,
  keepDataDir: false,
  env: {},
};

export type HttpOutcome =
  | { readonly status: number; readonly body: Buffer; readonly ms: number }
  | { readonly status: 'timeout' | 'error'; readonly error: string; readonly ms: number };

export class CollectorSession {
  readonly dataDir: string;
  readonly port: number;
  private readonly options: SessionOptions;
  private child: CollectorProcess | undefined;
  /** Output of earlier incarnations (the last few KB of each). */
  private history = '';

  private constructor(dataDir: string, port: number, options: SessionOptions) {
    this.dataDir = dataDir;
    this.port = port;
    this.options = options;
  }

  static async open(options: SessionOptions = DEFAULT_SESSION_OPTIONS): Promise<CollectorSession> {
    const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-fuzz-'));
    const session = new CollectorSession(dataDir, await freePort(), options);
    await session.start();
    return session;
  }

  private env(): Record<string, string> {
    return {
      NODE_OPTIONS: `--max-old-space-size=${this.options.heapMiB}`,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      TALLYHOUSE_LOG_LEVEL: 'error',
      TALLYHOUSE_GRPC_PORT: 'off',
      TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '10000',
      ...this.options.env,
    };
  }

  /** Starts an incarnation on the data directory (replaying its log); throws when it does not get ready. */
  async start(): Promise<void> {
    this.child = await startCollectorProcess({
      dataDir: this.dataDir,
      port: this.port,
      env: this.env(),
      readyTimeoutMs: this.options.readyTimeoutMs,
    });
  }

  alive(): boolean {
    return this.child?.running() ?? false;
  }

  /** How the current incarnation ended, if it did. */
  exitStatus(): string {
    const c = this.child?.child;
    if (c === undefined) return 'not started';
    if (c.exitCode !== null) return `exit code ${c.exitCode}`;
    if (c.signalCode !== null) return `signal ${c.signalCode}`;
    return 'running';
  }

  /** The last `chars` characters the collector wrote (all incarnations). */
  outputTail(chars = 3000): string {
    return `${this.history}${this.child?.output() ?? ''}`.slice(-chars);
  }

  post(spec: HttpRequestSpec): Promise<HttpOutcome> {
    return send(this.port, spec, this.options.requestTimeoutMs);
  }

  async healthy(timeoutMs = 5_000): Promise<boolean> {
    if (!this.alive()) return false;
    const outcome = await send(
      this.port,
      { method: 'GET', headers: {}, body: new Uint8Array(0) },
      timeoutMs,
      '/healthz',
    );
    return outcome.status === 200;
  }

  private retire(): void {
    this.history += (this.child?.output() ?? '').slice(-4000);
  }

  /** SIGKILL, then start again on the same directory: the write-ahead log must replay what was acknowledged. */
  async crashAndRestart(): Promise<void> {
    await this.child?.kill();
    this.retire();
    await this.start();
  }

  /** SIGTERM; resolves with the exit code (SIGKILL after the timeout). */
  async stop(timeoutMs = 60_000): Promise<number | null> {
    const code = (await this.child?.stop(timeoutMs)) ?? null;
    this.retire();
    return code;
  }

  async kill(): Promise<void> {
    await this.child?.kill();
    this.retire();
  }

  /** Every stored row, read in a separate process (the collector must have exited). */
  readStored(): Promise<StoredDump> {
    return readStoredDump(this.dataDir);
  }

  async close(): Promise<void> {
    if (this.alive()) await this.kill();
    if (!this.options.keepDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** One request on a fresh connection; resolves with the answer, a timeout or a connection error. */
export function send(
  port: number,
  spec: HttpRequestSpec,
  timeoutMs: number,
  path = '/v1/metrics',
): Promise<HttpOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: HttpOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const headers: Record<string, string | number> = { ...spec.headers };
    if (spec.method === 'POST') headers['content-length'] = spec.body.length;
    const req = httpRequest(
      { host: '127.0.0.1', port, method: spec.method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          finish({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            ms: performance.now() - started,
          }),
        );
        res.on('error', (error) =>
          finish({ status: 'error', error: error.message, ms: performance.now() - started }),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({
        status: 'timeout',
        error: `no answer within ${timeoutMs} ms`,
        ms: performance.now() - started,
      });
      req.destroy();
    }, timeoutMs);
    // An early answer (413) may close the connection while the body is still being written: not an error.
    req.on('error', (error) => {
      setTimeout(
        () => finish({ status: 'error', error: error.message, ms: performance.now() - started }),
        50,
      );
    });
    if (spec.method === 'POST') req.end(spec.body);
    else req.end();
  });
}
