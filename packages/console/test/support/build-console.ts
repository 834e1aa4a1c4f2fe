/**
 * vitest globalSetup: builds the console into dist/ once before the test files run, so they test the sources as
 * they are (npm install built it too, but sources may have changed since).
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const CONSOLE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(): Promise<void> {
  await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
}
