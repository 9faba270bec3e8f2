import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/reporters/summary-line.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn real agent processes and real databases; two cores do not
    // like more than two forks at once.
    pool: "forks",
    maxWorkers: 2,
  },
});
