import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { PipelineError } from "./errors.js";

export type PipelineKind = "yaml" | "ts";

/** A pipeline file's text plus, for TypeScript, a way to read the modules it imports. */
export interface PipelineSource {
  /** Display name used in errors, e.g. `.hodei/pipeline.yml`. */
  file: string;
  text: string;
  kind: PipelineKind;
  /**
   * Reads a module imported by a `.ts` pipeline. `relPath` is a normalised
   * POSIX path in the same space as `file` (e.g. `.hodei/lib/stages.ts`);
   * null means "no such file".
   */
  readModule?: (relPath: string) => Promise<string | null>;
}

export const PIPELINE_FILES = [".hodei/pipeline.yml", ".hodei/pipeline.yaml", ".hodei/pipeline.ts"] as const;

export type SourceResult = { ok: true; source: PipelineSource } | { ok: false; errors: PipelineError[] };

/** The kind of a pipeline file by its extension, or null. */
export function kindOf(file: string): PipelineKind | null {
  if (/\.ya?ml$/i.test(file)) return "yaml";
  if (/\.ts$/i.test(file)) return "ts";
  return null;
}

/**
 * Reads the pipeline of a repository directory (exactly one of
 * PIPELINE_FILES) or a pipeline file. Display names keep the path as given.
 */
export async function readPipelineSource(pathOrDir: string, cwd = process.cwd()): Promise<SourceResult> {
  const fail = (file: string, message: string): SourceResult => ({
    ok: false,
    errors: [new PipelineError(file, { line: 1, column: 1 }, message)],
  });
  const info = await stat(path.resolve(cwd, pathOrDir)).catch(() => null);
  if (!info) return fail(pathOrDir, "no such file or directory");
  let file = pathOrDir;
  if (info.isDirectory()) {
    const present: string[] = [];
    for (const candidate of PIPELINE_FILES) {
      const display = path.join(pathOrDir, candidate);
      const s = await stat(path.resolve(cwd, display)).catch(() => null);
      if (s?.isFile()) present.push(display);
    }
    if (present.length === 0) {
      return fail(pathOrDir, "no pipeline file: expected .hodei/pipeline.yml, .hodei/pipeline.yaml or .hodei/pipeline.ts");
    }
    if (present.length > 1) {
      return fail(present[1] ?? pathOrDir, `more than one pipeline file (${present.join(", ")}); keep exactly one`);
    }
    file = present[0] ?? file;
  }
  const kind = kindOf(file);
  if (!kind) return fail(file, "a pipeline file must end in .yml, .yaml or .ts");
  const text = await readFile(path.resolve(cwd, file), "utf8");
  const source: PipelineSource = { file, text, kind };
  if (kind === "ts") source.readModule = diskModuleReader(path.resolve(cwd, path.dirname(file)), path.dirname(file), cwd);
  return { ok: true, source };
}

/**
 * Reads imported modules from disk, refusing anything whose real path
 * (after symlinks) leaves the pipeline's directory.
 */
function diskModuleReader(rootFs: string, rootDisplay: string, cwd: string): (relPath: string) => Promise<string | null> {
  return async (relPath) => {
    const rel = path.relative(rootDisplay, relPath);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return null;
    const target = path.resolve(cwd, relPath);
    try {
      const [realRoot, realTarget] = await Promise.all([realpath(rootFs), realpath(target)]);
      if (realTarget !== realRoot && !realTarget.startsWith(realRoot + path.sep)) return null;
      if (!(await stat(realTarget)).isFile()) return null;
      return await readFile(realTarget, "utf8");
    } catch {
      return null;
    }
  };
}
