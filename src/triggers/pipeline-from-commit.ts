/**
 * The pipeline file of a commit, read from the mirror: exactly one of
 * PIPELINE_FILES (SPEC 1), with `.hodei/` modules readable for a `.ts` one.
 */
import type { GitMirrors } from "../git/mirror.js";
import { PIPELINE_FILES, PipelineError, type PipelineSource } from "../pipeline-parser/index.js";

export type CommitPipeline = { ok: true; source: PipelineSource } | { ok: false; none: true } | { ok: false; none: false; errors: PipelineError[] };

export async function pipelineFromCommit(mirrors: GitMirrors, url: string, sha: string): Promise<CommitPipeline> {
  // Every candidate in one git process: the ones the commit has come back as text.
  const texts = await mirrors.readFiles(url, sha, PIPELINE_FILES);
  const present = PIPELINE_FILES.filter((_, i) => texts[i] !== null);
  const [file, second] = present;
  if (!file) return { ok: false, none: true };
  if (second) {
    return { ok: false, none: false, errors: [new PipelineError(second, { line: 1, column: 1 }, `more than one pipeline file (${present.join(", ")}); keep exactly one`)] };
  }
  const text = texts[PIPELINE_FILES.indexOf(file)] ?? "";
  const kind = file.endsWith(".ts") ? "ts" : "yaml";
  const source: PipelineSource = { file, text, kind };
  if (kind === "ts") {
    source.readModule = async (rel) => (rel.startsWith(".hodei/") && !rel.split("/").includes("..") ? mirrors.readFile(url, sha, rel) : null);
  }
  return { ok: true, source };
}
