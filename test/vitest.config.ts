import { workspaceVitestConfig } from '../vitest.shared.ts';

export default workspaceVitestConfig({
  include: ['e2e/**/*.test.ts', 'chaos/**/*.test.ts'],
  // The chaos suites time kills, outages and restarts of child processes: one file at a time on 2 cores.
  fileParallelism: false,
  testTimeout: 240_000,
  hookTimeout: 60_000,
});
