/**
 * Turns a run's git source into a directory agents can copy (the engine's
 * resolveSource): the commit is fetched into the mirror if needed and
 * materialised once per run under HODEI_DATA_DIR/checkouts, removed when the
 * run completes. Credentials for the fetch are asked for the run when they
 * are needed (`authFor`), not remembered from the webhook that started it:
 * a restarted server, or another server adopting the run, has none of that,
 * and an installation token would have expired by then anyway.
 *
 * A trigger that knows the commit before its run exists may `prepare` the
 * checkout meanwhile: the run it then starts adopts that directory (a rename)
 * instead of waiting for git before its first stage can be leased.
 */
import { randomUUID } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import type { EngineListener } from "../engine/engine.js";
import { CommitNotFoundError, type GitAuth, type GitMirrors } from "../git/mirror.js";
import type { DirectorySource, RunEvent, RunSource } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";

export class GitSources implements EngineListener {
  private readonly checkouts = new Map<string, Promise<DirectorySource>>();
  /** Checkouts made ahead of their run, by url and sha, oldest first; resolve() takes one. */
  private readonly prepared = new Map<string, Prepared[]>();
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
      const ahead = this.takePrepared(source.url, source.sha);
      checkout = ahead ? this.adopt(runId, ahead, source.url, source.sha) : this.materialise(runId, source.url, source.sha);
      this.checkouts.set(runId, checkout);
      checkout.catch(() => this.checkouts.delete(runId));
    }
    return checkout;
  };

  /**
   * Starts materialising `sha` (already in the mirror) for a run about to be
   * started from it. Call the returned release once the run is started or
   * not: it removes the directory if no run adopted it.
   */
  prepare(url: string, sha: string): () => Promise<void> {
    const key = preparedKey(url, sha);
    const dir = path.join(this.root, `.prepared-${randomUUID()}`);
    const entry: Prepared = { dir, done: this.mirrors.materialise(url, sha, dir) };
    entry.done.catch(() => undefined); // a failure is the adopting run's to see (it checks out again)
    this.prepared.set(key, [...(this.prepared.get(key) ?? []), entry]);
    return async () => {
      const list = this.prepared.get(key);
      if (!list?.includes(entry)) return; // adopted
      const rest = list.filter((e) => e !== entry);
      if (rest.length > 0) this.prepared.set(key, rest);
      else this.prepared.delete(key);
      await entry.done.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    };
  }

  onEvents(state: RunState, events: readonly RunEvent[]): void {
    if (!events.some((e) => e.type === "run.completed") || !this.checkouts.has(state.id)) return;
    this.checkouts.delete(state.id);
    void rm(this.dirOf(state.id), { recursive: true, force: true });
  }

  private async materialise(runId: string, url: string, sha: string): Promise<DirectorySource> {
    const dir = this.dirOf(runId);
    await rm(dir, { recursive: true, force: true });
    try {
      await this.mirrors.materialise(url, sha, dir);
    } catch (error) {
      // Only a commit missing from the mirror needs a fetch, and the forge's credentials.
      if (!(error instanceof CommitNotFoundError)) throw error;
      await rm(dir, { recursive: true, force: true });
      await this.mirrors.ensureCommit(url, sha, { auth: (await this.authFor(runId)) ?? undefined });
      await this.mirrors.materialise(url, sha, dir);
    }
    return { kind: "directory", path: dir };
  }

  private takePrepared(url: string, sha: string): Prepared | undefined {
    const key = preparedKey(url, sha);
    const list = this.prepared.get(key);
    const entry = list?.shift();
    if (list?.length === 0) this.prepared.delete(key);
    return entry;
  }

  /** The run's checkout from one prepared ahead; checked out again if that one failed. */
  private async adopt(runId: string, ahead: Prepared, url: string, sha: string): Promise<DirectorySource> {
    const dir = this.dirOf(runId);
    try {
      await ahead.done;
    } catch {
      await rm(ahead.dir, { recursive: true, force: true });
      return this.materialise(runId, url, sha);
    }
    await rm(dir, { recursive: true, force: true });
    await rename(ahead.dir, dir);
    return { kind: "directory", path: dir };
  }

  private dirOf(runId: string): string {
    return path.join(this.root, runId.replace(/[^A-Za-z0-9_-]/g, "_"));
  }
}

interface Prepared {
  dir: string;
  done: Promise<void>;
}

function preparedKey(url: string, sha: string): string {
  return `${url}\0${sha}`;
}
