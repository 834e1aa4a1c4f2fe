/** Temporary directories for tests: data directories, log directories, files to damage. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A new empty directory `…/tallyhouse-collector-<prefix>-XXXXXX`, left in place. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tallyhouse-collector-${prefix}-`));
}

/**
 * `tempDir`, but every directory it made is removed after the file's tests. Call it at the top level of a test
 * file (it registers the `afterAll`).
 */
export function tempDirsRemovedAfterAll(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    made.push(dir);
    return dir;
  };
}
