import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn the CLI and real pwsh/sshd processes; two cores do not gain from more workers.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
