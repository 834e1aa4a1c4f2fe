/**
 * A TypeScript script of this repo as a child Node process (sources through the `@tallyhouse/source` condition):
 * stdout and stderr captured apart and together, every wait bounded, and a registry so a test file's `afterAll`
 * can SIGKILL whatever it left running. The environment is PATH and HOME plus what the caller gives: nothing
 * else leaks in from the test runner (no CLICKHOUSE_URL, no OTEL_*).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export const SOURCE_CONDITION = '--conditions=@tallyhouse/source';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeProcessOptions {
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Modules loaded before the script (`node --import`), e.g. a fault injected into the real bin. */
  readonly preload?: readonly string[];
  /** Run as another user (root only), e.g. to meet a directory it may not write. */
  readonly uid?: number;
  readonly gid?: number;
  /** Give the child a stdin pipe (`child.stdin`) instead of none. */
  readonly stdin?: boolean;
}

export interface NodeProcess {
  readonly child: ChildProcess;
  /** Settles once the process is gone. */
  readonly exited: Promise<Exit>;
  running(): boolean;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved in arrival order. */
  output(): string;
  /** Waits (bounded) until the output matches: log lines travel through a pipe, possibly after an HTTP answer. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<boolean>;
  /** Waits for the process to end by itself; SIGKILL after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<Exit>;
  /** SIGTERM, then `waitForExit(timeoutMs)`; resolves with the exit code (null when it had to be killed). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL now; resolves when the process is gone. */
  kill(): Promise<Exit>;
}

const live = new Set<ChildProcess>();

/** SIGKILLs every process started through this module that still runs (for `afterAll`). */
export function killStrayProcesses(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function startNodeProcess(script: string, options: NodeProcessOptions = {}): NodeProcess {
  const preload = (options.preload ?? []).flatMap((module) => ['--import', pathToFileURL(module).href]);
  const child = spawn(process.execPath, [SOURCE_CONDITION, ...preload, script, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  let output = '';
  // Decoded as a stream: a character whose UTF-8 bytes straddle two chunks (a tenant such as `ü日本😀` in a large
  // storage dump) would become U+FFFD if each chunk were decoded alone.
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
  });
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
    output += chunk;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const waitForExit = async (timeoutMs = 60_000) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const exit = await exited;
    clearTimeout(timer);
    return exit;
  };
  return {
    child,
    exited,
    running,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    async waitForOutput(pattern, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (pattern.test(output)) return true;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return pattern.test(output);
    },
    waitForExit,
    async stop(timeoutMs) {
      if (running()) child.kill('SIGTERM');
      return (await waitForExit(timeoutMs)).code;
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** What a script printed as JSON on its last line, once it exited 0; throws with its output otherwise. */
export function lastJsonLine<T>(script: NodeProcess, exit: Exit, label: string): T {
  const last = script.stdout().trim().split('\n').at(-1);
  if (exit.code !== 0 || last === undefined || last === '') {
    throw new Error(`${label} exited with ${JSON.stringify(exit)}:\n${script.stderr()}\n${script.stdout()}`);
  }
  return JSON.parse(last) as T;
}
