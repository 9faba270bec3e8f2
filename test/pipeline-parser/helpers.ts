import { fileURLToPath } from "node:url";
import type { TriggerContext } from "../../src/pipeline-parser/types.js";

/** The repository root: fixtures are addressed relative to it, so error file names are stable. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export const fixture = (rel: string): string => `test/fixtures/pipelines/${rel}`;

export function context(overrides: Partial<TriggerContext> = {}): TriggerContext {
  return {
    event: "push",
    branch: "main",
    tag: null,
    sha: "a".repeat(40),
    changedFiles: null,
    repo: { owner: "acme", name: "widgets" },
    pullRequest: null,
    ...overrides,
  };
}
