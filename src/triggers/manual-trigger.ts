/**
 * A run started by hand (`POST /api/runs`, SPEC 3): fetch the clone URL into
 * its mirror, take the exact commit asked for or the ref's head, read and
 * plan the commit's pipeline for a `manual` event and start the run. Every
 * refusal is a ManualTriggerError whose `refusal` says what went wrong, so
 * the HTTP layer picks the status without reading messages.
 */
import type { Engine } from "../engine/engine.js";
import { GitCommandError } from "../git/git-process.js";
import { CommitNotFoundError, RefNotFoundError, RepoUrlError, redactUrl } from "../git/mirror.js";
import { repoFromUrl } from "../git/local-checkout.js";
import { planPipelineSource, type TriggerContext } from "../pipeline-parser/index.js";
import { noSpans, type Spans } from "../observability/spans.js";
import type { GitSources } from "./git-sources.js";
import { pipelineFromCommit } from "./pipeline-from-commit.js";

export interface ManualRunRequest {
  /** The clone URL. */
  repo: string;
  /** `refs/heads/NAME` or `refs/tags/NAME`. */
  ref: string;
  /** An exact commit; default: the ref's head. */
  sha?: string;
  /** Values of the pipeline's `on.manual.inputs`, checked against their types once the file is read. */
  inputs?: Record<string, string | number | boolean>;
}

export type ManualRefusal = "bad_url" | "unreachable" | "no_ref" | "no_commit" | "no_pipeline" | "invalid_pipeline" | "bad_inputs";

export class ManualTriggerError extends Error {
  constructor(
    readonly refusal: ManualRefusal,
    message: string,
    /** The pipeline's `FILE:LINE:COL: message` lines, for `invalid_pipeline`; each input's problem for `bad_inputs`. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = "ManualTriggerError";
  }
}

/** What a manual run is started with: only the engine's `startRun` and the server's git sources. */
export interface ManualTriggerDeps {
  engine: Pick<Engine, "startRun">;
  sources: GitSources;
  spans?: Spans;
}

export class ManualTriggers {
  constructor(private readonly deps: ManualTriggerDeps) {}

  /** Starts the run; resolves with its id or rejects with a ManualTriggerError. */
  trigger = (req: ManualRunRequest): Promise<{ id: string }> =>
    (this.deps.spans ?? noSpans).run("trigger manual", { "hodei.ref": req.ref }, async (annotate) => {
      const started = await this.start(req);
      annotate({ "hodei.run.id": started.id });
      return started;
    });

  private async start(req: ManualRunRequest): Promise<{ id: string }> {
    const spans = this.deps.spans ?? noSpans;
    const { mirrors } = this.deps.sources;
    const url = req.repo;
    const name = repoFromUrl(url);
    let sha: string;
    try {
      mirrors.checkUrl(url);
      if (!name) throw new RepoUrlError(url, "the URL has no owner/name path");
      sha = await spans.run("git fetch", { "hodei.repo": `${name.owner}/${name.name}`, "hodei.ref": req.ref }, async (annotate) => {
        const found = req.sha ? (await mirrors.ensureCommit(url, req.sha), req.sha) : await mirrors.resolveRef(url, req.ref);
        annotate({ "hodei.sha": found });
        return found;
      });
    } catch (error) {
      throw refusalOf(error, url);
    }

    const pipeline = await pipelineFromCommit(mirrors, url, sha);
    if (!pipeline.ok && pipeline.none) throw new ManualTriggerError("no_pipeline", `commit ${sha} of ${redactUrl(url)} has no .hodei/pipeline.yml, .yaml or .ts`);
    const branch = /^refs\/heads\/(.+)$/.exec(req.ref)?.[1] ?? null;
    const tag = /^refs\/tags\/(.+)$/.exec(req.ref)?.[1] ?? null;
    const ctx: TriggerContext = { event: "manual", branch, tag, sha, changedFiles: null, repo: name, pullRequest: null, inputs: req.inputs ?? {} };
    const planned = pipeline.ok ? await spans.run("pipeline plan", { "hodei.pipeline.file": pipeline.source.file }, () => planPipelineSource(pipeline.source, ctx)) : pipeline;
    if (!planned.ok) {
      const lines = planned.errors.map((e) => e.toString());
      throw new ManualTriggerError("invalid_pipeline", `the pipeline of ${sha} does not validate: ${lines.join("; ")}`, lines);
    }
    const { plan } = planned;
    if (plan.inputProblems.length > 0) {
      throw new ManualTriggerError("bad_inputs", `the inputs do not fit ${pipeline.ok ? pipeline.source.file : "the pipeline"}: ${plan.inputProblems.join("; ")}`, plan.inputProblems);
    }
    const id = await this.deps.engine.startRun({
      pipeline: plan.name,
      source: { kind: "git", url, sha },
      repo: `${name.owner}/${name.name}`,
      sha,
      ref: req.ref,
      event: "manual",
      stages: plan.stages,
      ...(Object.keys(plan.inputs).length > 0 ? { inputs: plan.inputs } : {}),
    });
    return { id };
  }
}

function refusalOf(error: unknown, url: string): unknown {
  if (error instanceof RepoUrlError) return new ManualTriggerError("bad_url", error.message);
  if (error instanceof RefNotFoundError) return new ManualTriggerError("no_ref", error.message);
  if (error instanceof CommitNotFoundError) return new ManualTriggerError("no_commit", error.message);
  if (error instanceof GitCommandError) return new ManualTriggerError("unreachable", `cannot fetch ${redactUrl(url)}: ${gitReason(error.stderr)}`);
  return error;
}

/** git's own reason (its `fatal:` line), with anything shaped like credentials in a URL blanked. */
export function gitReason(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => l.startsWith("fatal:")) ?? lines[0] ?? "git fetch failed";
  return line.replace(/^fatal:\s*/, "").replace(/\/\/[^/@\s]*@/g, "//***@").slice(0, 500);
}
