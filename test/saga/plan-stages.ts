import type { PlannedStage } from "../../src/pipeline-parser/types.js";

/** A planned stage with defaults, for engine tests that do not go through the parser. */
export function stage(id: string, extra: Partial<PlannedStage> = {}): PlannedStage {
  return {
    id,
    name: id,
    matrix: null,
    needs: [],
    skip: false,
    provider: "local",
    image: null,
    commands: ["true"],
    env: {},
    secrets: [],
    artifacts: [],
    timeoutSeconds: 60,
    retries: 0,
    allowFailure: false,
    workdir: ".",
    ...extra,
  };
}
