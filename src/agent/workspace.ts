/**
 * A fresh directory per stage attempt, filled from the run's files (fetched
 * from the server), removed afterwards. Every attempt starts from the same
 * files (SPEC 1).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export interface Workspace {
  root: string;
  /** The directory commands run in: `workdir` resolved inside `root`. */
  cwd: string;
  dispose(): Promise<void>;
}

export class WorkdirEscapeError extends Error {
  constructor(readonly workdir: string) {
    super(`workdir ${JSON.stringify(workdir)} leaves the checkout`);
    this.name = "WorkdirEscapeError";
  }
}

export async function prepareWorkspace(workdir: string, fill: (root: string) => Promise<void>): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), "hodei-ws-"));
  const dispose = () => rm(root, { recursive: true, force: true });
  try {
    const cwd = path.resolve(root, workdir || ".");
    if (cwd !== root && !cwd.startsWith(root + path.sep)) throw new WorkdirEscapeError(workdir);
    await fill(root);
    return { root, cwd, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
