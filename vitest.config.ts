import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable report to print "N passed, N failed".
const jsonReport = process.env.JOINEDUP_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file opens its own database (a PGlite instance or a PostgreSQL
    // schema); two workers fit the 2-core machines.
    maxWorkers: 2,
    pool: 'forks',
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    ...(jsonReport ? { outputFile: { json: jsonReport } } : {}),
  },
});
