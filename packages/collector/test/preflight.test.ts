/**
 * A host, port or data directory that cannot work is found before storage is opened, and the real `tallyhouse`
 * bin exits 2 with one line naming the variable — no stack trace. So do the timer settings Node cannot schedule.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { embeddedDataPath } from '@tallyhouse/exporter-clickhouse';
import { ConfigError } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDataDir, checkListenAddress, listenError, PreflightError } from '../src/preflight.ts';
import { tempDir } from './support.ts';

const PACKAGE_DIR = join(import.meta.dirname, '..');
const dir = tempDir('preflight');
// Readable by the unprivileged user the read-only case runs as (mkdtemp makes it 0700).
chmodSync(dir, 0o755);

/** An unprivileged user for the read-only cases: root writes into a 0555 directory regardless. */
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534 } : {};
/**
 * The unprivileged user must reach Node and this checkout; a checkout under a 0700 directory (`mktemp -d`) keeps
 * it out, and then the read-only cases cannot run here (they would fail on EACCES from spawn, not on the bin).
 */
const UNPRIVILEGED_CAN_RUN =
  process.getuid?.() !== 0 ||
  spawnSync(process.execPath, ['-e', "require('node:fs').accessSync('src/bin.ts')"], {
    cwd: join(import.meta.dirname, '..'),
    ...UNPRIVILEGED,
  }).status === 0;

interface Exit {
  code: number | null;
  output: string;
}

/** Runs the bin with `env` until it exits (it must, within the timeout). */
async function runBin(
  env: Record<string, string>,
  options: { uid?: number; gid?: number } = {},
): Promise<Exit> {
  const child = spawn(process.execPath, ['--conditions=@tallyhouse/source', 'src/bin.ts'], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', TALLYHOUSE_LOG_LEVEL: 'info', TALLYHOUSE_GRPC_PORT: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  let output = '';
  // Decoded as streams: a character split across chunks stays whole.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk: string) => {
    output += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

function expectConfigurationExit(exit: Exit, variable: string, detail: RegExp): void {
  expect(exit.code, exit.output).toBe(2);
  const lines = exit.output.trim().split('\n');
  expect(lines, exit.output).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^tallyhouse: invalid configuration: ${variable}: `));
  expect(lines[0]).toMatch(detail);
  expect(exit.output).not.toMatch(/\n\s+at /); // no stack trace
}

let occupied: Server;
let occupiedPort: number;

beforeAll(async () => {
  occupied = createServer();
  occupied.listen(0, '127.0.0.1');
  await once(occupied, 'listening');
  occupiedPort = (occupied.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => occupied.close(resolve));
});

describe('host and port problems exit 2 naming the variable, before storage is opened', () => {
  it.each<[string, Record<string, string>, string, RegExp]>([
    [
      'an impossible IPv4 address',
      { TALLYHOUSE_HOST: '999.999.1.1' },
      'TALLYHOUSE_HOST',
      /"999\.999\.1\.1" is not a valid IP address/,
    ],
    [
      'a name that does not resolve',
      { TALLYHOUSE_HOST: 'no-such-host.invalid' },
      'TALLYHOUSE_HOST',
      /"no-such-host\.invalid" does not resolve to an address/,
    ],
    [
      'an address of another machine',
      { TALLYHOUSE_HOST: '192.0.2.1' },
      'TALLYHOUSE_HOST',
      /"192\.0\.2\.1" is not an address of this machine/,
    ],
    ['a bracketed IPv6 address', { TALLYHOUSE_HOST: '[::1]' }, 'TALLYHOUSE_HOST', /without brackets/],
    ['a port in use', {}, 'TALLYHOUSE_PORT', /port \d+ is already in use on 127\.0\.0\.1/],
  ])('%s', async (label, env, variable, detail) => {
    const dataDir = join(dir, label.replaceAll(' ', '-'));
    const exit = await runBin({
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_PORT: String(occupiedPort),
      ...env,
    });
    expectConfigurationExit(exit, variable, detail);
    expect(existsSync(embeddedDataPath(dataDir)), 'storage was opened').toBe(false);
  });
});

describe('data directory problems exit 2 naming TALLYHOUSE_DATA_DIR, before anything is written in it', () => {
  it('a file where the directory should be', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    expectConfigurationExit(
      await runBin({ TALLYHOUSE_DATA_DIR: file }),
      'TALLYHOUSE_DATA_DIR',
      /a-file is not a directory$/,
    );
  });

  it('a path under a file', async () => {
    const file = join(dir, 'another-file');
    writeFileSync(file, '');
    expectConfigurationExit(
      await runBin({ TALLYHOUSE_DATA_DIR: join(file, 'data') }),
      'TALLYHOUSE_DATA_DIR',
      /is not a directory: part of its path is a file \(ENOTDIR/,
    );
  });

  it.skipIf(!UNPRIVILEGED_CAN_RUN)('a read-only directory', async () => {
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const exit = await runBin({ TALLYHOUSE_DATA_DIR: readOnly }, UNPRIVILEGED);
    expectConfigurationExit(exit, 'TALLYHOUSE_DATA_DIR', /read-only is not writable \((EACCES|EROFS)/);
  });

  it.skipIf(!UNPRIVILEGED_CAN_RUN)('a directory that cannot be created (read-only parent)', async () => {
    const parent = join(dir, 'read-only-parent');
    mkdirSync(parent);
    chmodSync(parent, 0o555);
    const exit = await runBin({ TALLYHOUSE_DATA_DIR: join(parent, 'data') }, UNPRIVILEGED);
    expectConfigurationExit(
      exit,
      'TALLYHOUSE_DATA_DIR',
      /data does not exist and cannot be created \(EACCES/,
    );
  });
});

describe('timer settings Node cannot schedule exit 2 naming the variable and the maximum', () => {
  it.each<[string, string, RegExp]>([
    ['TALLYHOUSE_SHUTDOWN_TIMEOUT_MS', '1100000000', /expected at most 1073739323 ms .*got 1100000000$/],
    ['TALLYHOUSE_FLUSH_INTERVAL_MS', '2147483648', /expected at most 2147483647 ms .*got 2147483648$/],
    ['TALLYHOUSE_RETRY_MAX_MS', '2147483648', /expected at most 2147483647 ms .*got 2147483648$/],
  ])('%s=%s', async (variable, value, detail) => {
    const exit = await runBin({ TALLYHOUSE_DATA_DIR: join(dir, 'timers'), [variable]: value });
    expect(exit.code, exit.output).toBe(2);
    expect(exit.output).toMatch(new RegExp(`^tallyhouse: invalid configuration: ${variable}`));
    expect(exit.output.trim()).toMatch(detail);
    expect(exit.output).not.toMatch(/\n\s+at /);
  });
});

describe('the checks themselves', () => {
  it('are ConfigErrors with a stable code per problem and the variable', async () => {
    const error = await checkListenAddress('999.999.1.1', 0).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(PreflightError);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'HOST_UNRESOLVABLE', variable: 'TALLYHOUSE_HOST' });
    expect(() => checkDataDir(join(dir, 'a-file'))).toThrow(
      expect.objectContaining({ code: 'DATA_DIR_UNUSABLE', variable: 'TALLYHOUSE_DATA_DIR' }),
    );
  });

  it('take a name that resolves and an IP literal, and leave the port free', async () => {
    await checkListenAddress('localhost', 0);
    await checkListenAddress('127.0.0.1', 0);
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as { port: number };
    probe.close();
    await once(probe, 'close');
    await checkListenAddress('127.0.0.1', port);
    // Free again after the check: the real server binds it next.
    const real = createServer();
    real.listen(port, '127.0.0.1');
    await once(real, 'listening');
    real.close();
  });

  it('create a missing data directory, nested, and leave no probe file behind', () => {
    const nested = join(dir, 'created', 'a', 'b');
    checkDataDir(nested);
    expect(existsSync(nested)).toBe(true);
    expect(existsSync(join(nested, `.tallyhouse-write-probe-${process.pid}`))).toBe(false);
  });

  it('map a listen failure after the probe (the port taken meanwhile) to the same errors', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    expect(listenError(inUse, '0.0.0.0', 4318)).toMatchObject({
      code: 'PORT_UNAVAILABLE',
      variable: 'TALLYHOUSE_PORT',
      message: 'TALLYHOUSE_PORT: port 4318 is already in use on 0.0.0.0 (0.0.0.0:4318)',
    });
    const privileged = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
    expect(listenError(privileged, '0.0.0.0', 80)).toMatchObject({ code: 'PORT_UNAVAILABLE' });
    const foreign = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
    expect(listenError(foreign, '192.0.2.1', 4318)).toMatchObject({
      code: 'HOST_NOT_BINDABLE',
      variable: 'TALLYHOUSE_HOST',
    });
  });
});
