/**
 * One internal shape for what GitHub and Gitea send (SPEC 4, 5), and for the
 * server's own deliveries (reconciled heads, schedule slots): the triggers
 * act on these and never look at a raw payload.
 */
import type { ForgeKind } from "./delivery-store.js";

export interface RepoRef {
  forge: ForgeKind;
  owner: string;
  name: string;
  /** `owner/name` as the forge names it. */
  fullName: string;
  cloneUrl: string;
  /** The GitHub App installation that sent the event; null for Gitea and plain webhooks. */
  installationId: number | null;
}

export type PullRequestAction = "opened" | "reopened" | "synchronize" | "closed";

export type ForgeEvent =
  | {
      kind: "push";
      repo: RepoRef;
      ref: string;
      branch: string | null;
      tag: string | null;
      /** null when the push created the ref. */
      before: string | null;
      after: string;
      sender: string;
    }
  | {
      kind: "pull_request";
      action: PullRequestAction;
      repo: RepoRef;
      number: number;
      head: { sha: string; ref: string; cloneUrl: string | null };
      base: { ref: string; sha: string | null };
      /** The head lives in another repository (SPEC 6: no secrets until approved). */
      fork: boolean;
      sender: string;
    }
  | {
      kind: "comment";
      repo: RepoRef;
      /** The pull request the comment is on. Its head is asked from the forge, never taken from here. */
      number: number;
      commentId: number;
      body: string;
      author: string;
    }
  | {
      kind: "check_run";
      action: "rerequested" | "requested_action";
      repo: RepoRef;
      headSha: string;
      checkRunId: number;
      name: string;
      /** What Hodei put in the check's external_id: `RUN_ID/STAGE_ID`. */
      externalId: string | null;
      requestedAction: string | null;
      sender: string;
    }
  | { kind: "check_suite"; repo: RepoRef; headSha: string; sender: string }
  /** A push that deleted a branch (a deleted tag is ignored): the branch's schedules end. */
  | { kind: "branch_deleted"; repo: RepoRef; branch: string }
  /** A slot of `on.schedule` that fell due (the server's own event, src/webhooks/schedule-events.ts). */
  | { kind: "schedule"; repo: RepoRef; branch: string; sha: string; cron: string; timezone: string; slot: string };

export type Normalised = { ok: true; event: ForgeEvent } | { ok: false; ignored: string };

export const ZERO_SHA = /^0+$/;

export function ignored(reason: string): Normalised {
  return { ok: false, ignored: reason };
}

/** Branch or tag of a full ref name. */
export function refKind(ref: string): { branch: string | null; tag: string | null } {
  if (ref.startsWith("refs/heads/")) return { branch: ref.slice("refs/heads/".length), tag: null };
  if (ref.startsWith("refs/tags/")) return { branch: null, tag: ref.slice("refs/tags/".length) };
  return { branch: null, tag: null };
}

/** A malformed payload: the fields a supported event must carry are missing. */
export class PayloadError extends Error {
  constructor(
    readonly event: string,
    readonly field: string,
  ) {
    super(`${event} payload without a valid ${field}`);
    this.name = "PayloadError";
  }
}

type Obj = Record<string, unknown>;

/** Typed readers for untrusted JSON; a missing required field throws PayloadError. */
export class Reader {
  constructor(
    private readonly event: string,
    readonly root: unknown,
  ) {}

  obj(path: string): Obj {
    const v = this.at(path);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PayloadError(this.event, path);
    return v as Obj;
  }
  str(path: string): string {
    const v = this.at(path);
    if (typeof v !== "string" || v === "") throw new PayloadError(this.event, path);
    return v;
  }
  num(path: string): number {
    const v = this.at(path);
    if (typeof v !== "number" || !Number.isFinite(v)) throw new PayloadError(this.event, path);
    return v;
  }
  optStr(path: string): string | null {
    const v = this.at(path);
    return typeof v === "string" && v !== "" ? v : null;
  }
  optNum(path: string): number | null {
    const v = this.at(path);
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  }
  has(path: string): boolean {
    const v = this.at(path);
    return v !== undefined && v !== null;
  }
  at(path: string): unknown {
    let v: unknown = this.root;
    for (const key of path.split(".")) {
      if (typeof v !== "object" || v === null) return undefined;
      v = (v as Obj)[key];
    }
    return v;
  }
}
