import { statSync } from "node:fs";
import path from "node:path";
import { simpleGit } from "simple-git";
import { planPipeline } from "../../pipeline-parser/index.js";
import type { TriggerContext, TriggerEvent } from "../../pipeline-parser/types.js";
import { inputPairs } from "../input-pairs.js";
import { UsageError } from "../usage-error.js";
import { formatPlan } from "./plan-format.js";

export interface PlanCommandOptions {
  path: string;
  json: boolean;
  event?: string;
  branch?: string;
  tag?: string;
  /** Comma-separated changed files; absent means "all files". */
  changed?: string;
  /** `NAME=VALUE` of on.manual.inputs, for `--event manual`. */
  inputs?: readonly string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd?: string;
}

const EVENTS: readonly TriggerEvent[] = ["push", "pull_request", "manual", "schedule"];

/** `hodei plan [PATH]`: the expanded DAG for a trigger context, as a table or (--json) the Plan object. */
export async function planCommand(opts: PlanCommandOptions): Promise<number> {
  const event = (opts.event ?? "push") as TriggerEvent;
  if (!EVENTS.includes(event)) throw new UsageError(`--event must be one of ${EVENTS.join(", ")}, not ${JSON.stringify(opts.event)}`);
  const cwd = opts.cwd ?? process.cwd();
  const git = await gitInfo(path.resolve(cwd, opts.path));
  const branch = opts.branch ?? (opts.tag !== undefined ? null : (git.branch ?? "main"));
  const changedFiles =
    opts.changed === undefined
      ? null
      : opts.changed
          .split(",")
          .map((f) => f.trim())
          .filter((f) => f !== "");
  const ctx: TriggerContext = {
    event,
    branch,
    tag: opts.tag ?? null,
    sha: git.sha ?? "0".repeat(40),
    changedFiles,
    repo: { owner: "local", name: path.basename(path.resolve(cwd, opts.path)) },
    pullRequest: event === "pull_request" ? { number: 0, baseBranch: branch ?? "main" } : null,
    ...(event === "manual" ? { inputs: inputPairs(opts.inputs ?? []) } : {}),
  };
  if (event !== "manual" && (opts.inputs ?? []).length > 0) throw new UsageError("--input applies to --event manual only");
  const result = await planPipeline(opts.path, ctx, { cwd });
  if (!result.ok) {
    for (const e of result.errors) opts.stderr.write(`${e.toString()}\n`);
    return 1;
  }
  if (result.plan.inputProblems.length > 0) {
    for (const p of result.plan.inputProblems) opts.stderr.write(`--input: ${p}\n`);
    return 1;
  }
  if (opts.json) opts.stdout.write(`${JSON.stringify(result.plan, null, 2)}\n`);
  else opts.stdout.write(formatPlan(result.plan, describe(ctx)));
  return 0;
}

function describe(ctx: TriggerContext): string {
  if (ctx.tag !== null) return `${ctx.event} of tag ${ctx.tag}`;
  return `${ctx.event} on ${ctx.branch ?? "(no branch)"}`;
}

/** The current branch and commit of the repository holding `dir`, when there is one. */
async function gitInfo(dir: string): Promise<{ branch: string | null; sha: string | null }> {
  try {
    const base = statSync(dir).isDirectory() ? dir : path.dirname(dir);
    const git = simpleGit({ baseDir: base });
    const branch = (await git.revparse(["--abbrev-ref", "HEAD"])).trim();
    const sha = (await git.revparse(["HEAD"])).trim();
    return { branch: branch === "HEAD" || branch === "" ? null : branch, sha: /^[0-9a-f]{40}$/.test(sha) ? sha : null };
  } catch {
    return { branch: null, sha: null };
  }
}
