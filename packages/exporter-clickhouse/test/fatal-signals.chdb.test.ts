import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support.ts';

const child = fileURLToPath(new URL('./out-of-memory-child.ts', import.meta.url));

describe('with the embedded engine loaded', () => {
  it('a V8 heap out of memory ends the process (a supervisor can restart it) instead of hanging', async () => {
    const process_ = spawn(
      process.execPath,
      ['--conditions=@tallyhouse/source', '--max-old-space-size=96', child, tempDir('oom')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    process_.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    process_.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Without the fix the process sits in the engine's signal handler forever; 45 s is far past the ~5 s it
    // takes to exhaust 96 MB, and the kill afterwards keeps a regression from hanging the suite.
    const killer = setTimeout(() => process_.kill('SIGKILL'), 45_000);
    const [code, signal] = (await once(process_, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    expect(stdout).toContain('started');
    expect(stderr).toMatch(/heap out of memory/);
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGABRT' });
  }, 60_000);
});
