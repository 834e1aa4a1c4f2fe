/**
 * The harness that reads child processes (collectors, storage dumps) keeps multi-byte characters whole when a
 * pipe chunk ends inside one: a storage dump once showed a tenant `ü日本😀` as `ü日��😀` (a foreign tenant, and
 * totals that seemed to change across a restart) because each chunk was decoded alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { killStrayProcesses, startNodeProcess } from './support/node-process.ts';
import { tempDir } from './support.ts';

afterAll(killStrayProcesses);

it('decodes a child’s output as a stream, whatever the chunk boundaries', async () => {
  const script = join(tempDir('child-output'), 'print.mjs');
  // One write of 64 KiB − 1 ASCII bytes, then multi-byte characters: the reader's 64 KiB chunk ends inside one.
  writeFileSync(script, "process.stdout.write('a'.repeat(65535) + '本日😀'.repeat(1000) + '\\n');\n");
  const child = startNodeProcess(script);
  const exit = await child.waitForExit(30_000);
  expect(exit.code).toBe(0);
  const tail = child.stdout().slice(65535).trimEnd();
  expect(tail).toBe('本日😀'.repeat(1000));
  expect(child.stdout()).not.toContain('\uFFFD');
});
