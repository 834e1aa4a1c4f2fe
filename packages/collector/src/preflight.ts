/**
 * Checks of the host, port and data directory made before anything is opened, so a setting that cannot work is
 * reported as a configuration error naming its variable (bin: exit 2, one line) — not as a stack trace after
 * storage was opened and the write-ahead log replayed.
 *
 * The port is checked by binding a probe server and closing it, not by binding the real server early: a
 * listening socket accepts connections (the kernel completes handshakes) long before storage is open and the log
 * replayed, and TCP health checks and load balancers would take that for "up". The port can still be taken
 * between the probe and the real `listen`; that failure is mapped to the same error (`listenError`).
 */
import { lookup } from 'node:dns/promises';
import { mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { ConfigError } from '@tallyhouse/model';

export type PreflightCode =
  /** TALLYHOUSE_HOST is neither an IP address nor a name that resolves. */
  | 'HOST_UNRESOLVABLE'
  /** TALLYHOUSE_HOST resolves, but to no address of this machine (or one its stack cannot bind). */
  | 'HOST_NOT_BINDABLE'
  /** TALLYHOUSE_PORT is in use on that host, or needs privileges. */
  | 'PORT_UNAVAILABLE'
  /** TALLYHOUSE_DATA_DIR cannot be created, is not a directory, or is not writable. */
  | 'DATA_DIR_UNUSABLE';

/** A `ConfigError` (same `variable`, same `<variable>: ` message prefix) with a code per problem. */
export class PreflightError extends ConfigError {
  override readonly code: PreflightCode;

  constructor(code: PreflightCode, variable: string, message: string) {
    super(variable, message);
    this.code = code;
  }
}

const DATA_DIR_VARIABLE = 'TALLYHOUSE_DATA_DIR';

/**
 * The data directory exists (or is created), is a directory and takes a new file (created, then deleted).
 * Synchronous: the collector's constructor opens the write-ahead log in this directory right after.
 */
export function checkDataDir(dir: string): void {
  const fail = (problem: string, error?: unknown) =>
    new PreflightError(
      'DATA_DIR_UNUSABLE',
      DATA_DIR_VARIABLE,
      `${dir} ${problem}${error === undefined ? '' : ` (${(error as Error).message})`}`,
    );
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw fail('is not a directory: part of its path is a file', error);
    if (code !== 'ENOENT') throw fail('cannot be examined', error);
    try {
      makeDirectory(dir);
    } catch (mkdirError) {
      throw fail('does not exist and cannot be created', mkdirError);
    }
    isDirectory = true;
  }
  if (!isDirectory) throw fail('is not a directory');
  // access(W_OK) is not enough: it says yes for root on a read-only mount. Writing a file answers for real.
  const probe = join(dir, `.tallyhouse-write-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (error) {
    throw fail('is not writable', error);
  }
  try {
    unlinkSync(probe);
  } catch (error) {
    throw fail('does not let the collector delete a file it created', error);
  }
}

/**
 * `mkdir -p`, one level at a time. Not `mkdirSync(…, { recursive: true })`: where mkdir answers ENOENT for a
 * parent that exists (/proc), Node's recursive mkdir retries forever at full CPU (seen on Node 24).
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    try {
      statSync(current);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const level of missing.reverse()) mkdirSync(level);
}

/**
 * The host resolves to an address of this machine and `port` can be bound on it (`port` 0: any port).
 * `portVariable` names the setting a port problem is reported against.
 */
export async function checkListenAddress(
  host: string,
  port: number,
  portVariable = 'TALLYHOUSE_PORT',
): Promise<void> {
  const address = await resolveHost(host);
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      // exclusive: a cluster primary must not hand the probe a shared handle that would hide a conflict.
      probe.listen({ host: address, port, exclusive: true }, resolve);
    });
  } catch (error) {
    throw listenError(error, host, port, portVariable);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** An IP literal as it is; a name through the system resolver (as `listen` resolves it). */
async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const unresolvable = (why: string) =>
    new PreflightError('HOST_UNRESOLVABLE', 'TALLYHOUSE_HOST', `${JSON.stringify(host)} ${why}`);
  if (/^\[.*\]$/.test(host)) throw unresolvable('is bracketed: write an IPv6 address without brackets');
  // All digits and dots (999.999.1.1) is a mistyped IPv4 address, never a name (no top-level domain is
  // numeric); asking DNS about it would only add a resolver timeout before the same answer.
  if (/^[\d.]+$/.test(host) || host.includes(':')) throw unresolvable('is not a valid IP address');
  if (!/^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$/.test(host) || host.length > 253) {
    throw unresolvable('is neither an IP address nor a host name');
  }
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw unresolvable(
      `does not resolve to an address (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** What a failed `listen(port, host)` means, as a `PreflightError` naming the variable at fault. */
export function listenError(
  error: unknown,
  host: string,
  port: number,
  portVariable = 'TALLYHOUSE_PORT',
): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new PreflightError(
        'PORT_UNAVAILABLE',
        portVariable,
        `port ${port} is already in use on ${host} (${where})`,
      );
    case 'EACCES':
      return new PreflightError(
        'PORT_UNAVAILABLE',
        portVariable,
        `no permission to listen on port ${port} (${where}); ports below 1024 need privileges`,
      );
    case 'EADDRNOTAVAIL':
      return new PreflightError(
        'HOST_NOT_BINDABLE',
        'TALLYHOUSE_HOST',
        `${JSON.stringify(host)} is not an address of this machine (cannot listen on ${where})`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PreflightError(
        'HOST_UNRESOLVABLE',
        'TALLYHOUSE_HOST',
        `${JSON.stringify(host)} does not resolve to an address (${code})`,
      );
    default:
      return new PreflightError(
        'HOST_NOT_BINDABLE',
        'TALLYHOUSE_HOST',
        `cannot listen on ${where}: ${(error as Error).message}`,
      );
  }
}
