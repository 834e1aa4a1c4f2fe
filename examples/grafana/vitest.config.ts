import { workspaceVitestConfig } from '../../vitest.shared.ts';

export default workspaceVitestConfig();
