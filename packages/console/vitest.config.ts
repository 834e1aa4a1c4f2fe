import { workspaceVitestConfig } from '../../vitest.shared.ts';

/**
 * The console is built once before the files run; the files run one at a time (each starts a collector with the
 * embedded engine, and the browser ones a Chromium: on two cores they only slow each other down).
 */
export default workspaceVitestConfig({
  globalSetup: ['test/support/build-console.ts'],
  fileParallelism: false,
  testTimeout: 60_000,
  hookTimeout: 120_000,
});
