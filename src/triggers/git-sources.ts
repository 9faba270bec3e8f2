/**
 * Turns a run's git source into a directory agents can copy (the engine's
 * resolveSource): the commit is fetched into the mirror if needed and
 * materialised once per run under HODEI_DATA_DIR/checkouts, removed when the
 * run completes. Credentials for the fetch are asked for the run when they
 * are needed (`authFor`), not remembered from the webhook that started it:
 * a restarted server, or another server adopting the run, has none of that,
 * and an installation token would have expired by then anyway.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import type { EngineListener } from "../engine/engine.js";
import type { GitAuth, GitMirrors } from "../git/mirror.js";
import type { DirectorySource, RunEvent, RunSource } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";

export class GitSources implements EngineListener {
  private readonly checkouts = new Map<string, Promise<DirectorySource>>();
  /** The credentials to fetch a run's repository with (the forge integration's); none by default. */
  private authFor: (runId: string) => Promise<GitAuth | null> = () => Promise.resolve(null);

  constructor(
    readonly mirrors: GitMirrors,
    private readonly root: string,
  ) {}

  useAuth(authFor: (runId: string) => Promise<GitAuth | null>): void {
    this.authFor = authFor;
  }

  resolve = (runId: string, source: RunSource): Promise<DirectorySource> => {
    if (source.kind === "directory") return Promise.resolve(source);
    let checkout = this.checkouts.get(runId);
    if (!checkout) {
      checkout = this.materialise(runId, source.url, source.sha);
      this.checkouts.set(runId, checkout);
      checkout.catch(() => this.checkouts.delete(runId));
    }
    return checkout;
  };

  onEvents(state: RunState, events: readonly RunEvent[]): void {
    if (!events.some((e) => e.type === "run.completed") || !this.checkouts.has(state.id)) return;
    this.checkouts.delete(state.id);
    void rm(this.dirOf(state.id), { recursive: true, force: true });
  }

  private async materialise(runId: string, url: string, sha: string): Promise<DirectorySource> {
    // Only a commit missing from the mirror needs the forge's credentials.
    if (!(await this.mirrors.hasCommitOf(url, sha))) await this.mirrors.ensureCommit(url, sha, { auth: (await this.authFor(runId)) ?? undefined });
    const dir = this.dirOf(runId);
    await rm(dir, { recursive: true, force: true });
    await this.mirrors.materialise(url, sha, dir);
    return { kind: "directory", path: dir };
  }

  private dirOf(runId: string): string {
    return path.join(this.root, runId.replace(/[^A-Za-z0-9_-]/g, "_"));
  }
}
