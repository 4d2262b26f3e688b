import { defineConfig } from 'vitest/config';

// NOTE: worker threads run compiled JavaScript from each package's dist/, so `npm test`
// builds first (turbo) and vitest only runs the TypeScript test files. The second reporter lists
// the skipped tests and why, once, after the summary (reasons: test/support/skip-reasons.ts).
export default defineConfig({
  test: {
    reporters: ['default', './test/support/skipped-tests-reporter.ts'],
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
