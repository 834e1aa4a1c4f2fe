/**
 * Starts the endpoint in its own process and drives it: the fault switch over its control route, SIGKILL and
 * restart on the same port and data directory (a storage process dying mid-insert and coming back), and a clean
 * stop. Several processes — collectors, the test itself — can share it as one ClickHouse.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { FaultSetting } from './faults.ts';

const BIN = fileURLToPath(new URL('./bin.ts', import.meta.url));

export interface EndpointProcessOptions {
  readonly dataDir: string;
  /** 0 (default): a free port, kept across restarts. */
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  /** How long to wait for the process to listen (default 30 s: a first start creates the engine's files). */
  readonly startTimeoutMs?: number;
}

export interface EndpointStats {
  readonly fault: FaultSetting | null;
  readonly faultsApplied: Readonly<Record<string, number>>;
  readonly statements: Readonly<Record<string, number>>;
}

export class EndpointProcess {
  private child: ChildProcess | undefined;
  private portNumber: number;
  private readonly options: EndpointProcessOptions;
  /** Everything the process wrote to stderr (its own diagnostics and the engine's). */
  stderr = '';

  private constructor(options: EndpointProcessOptions) {
    this.options = options;
    this.portNumber = options.port ?? 0;
  }

  static async start(options: EndpointProcessOptions): Promise<EndpointProcess> {
    const process = new EndpointProcess(options);
    await process.spawn();
    return process;
  }

  get port(): number {
    return this.portNumber;
  }

  /** The URL for `CLICKHOUSE_URL` / `createClient({ url })`, without credentials. */
  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sets the fault switch (`undefined` clears it). */
  async setFault(setting: FaultSetting | undefined): Promise<EndpointStats> {
    return this.control('fault', setting === undefined ? 'null' : JSON.stringify(setting));
  }

  stats(): Promise<EndpointStats> {
    return this.control('stats', '');
  }

  /** Kills the process at once (default SIGKILL: no shutdown, as a crash), and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** Starts it again on the same port and data directory. */
  async restart(): Promise<void> {
    if (this.running) await this.kill();
    await this.spawn();
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private async spawn(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@tallyhouse/source',
        BIN,
        '--data-dir',
        this.options.dataDir,
        '--port',
        String(this.portNumber),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          CLICKHOUSE_ENDPOINT_USER: this.options.user ?? 'default',
          CLICKHOUSE_ENDPOINT_PASSWORD: this.options.password ?? '',
        },
      },
    );
    this.child = child;
    // A test process that dies (or forgets to stop it) must not leave an engine running behind it.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-64 * 1024);
    });
    this.portNumber = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () =>
          fail(new Error(`the endpoint did not listen within ${this.options.startTimeoutMs ?? 30_000} ms`)),
        this.options.startTimeoutMs ?? 30_000,
      );
      const fail = (error: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${error.message}\n${this.stderr}`));
      };
      child.once('exit', (code, signal) =>
        fail(new Error(`the endpoint exited (${code ?? signal}) before it listened`)),
      );
      child.stdout?.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        const line = stdout.split('\n').find((candidate) => candidate.startsWith('{"listening":'));
        if (line === undefined) return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve((JSON.parse(line) as { listening: number }).listening);
      });
    });
  }

  private async control(route: string, body: string): Promise<EndpointStats> {
    const response = await fetch(`${this.url}/_endpoint/${route}`, { method: 'POST', body });
    const text = await response.text();
    if (!response.ok) throw new Error(`endpoint control ${route}: ${response.status} ${text}`);
    return JSON.parse(text) as EndpointStats;
  }
}
