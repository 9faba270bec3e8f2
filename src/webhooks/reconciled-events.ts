/**
 * Deliveries the push reconciler (src/triggers/push-reconciler.ts) stores for
 * a head whose webhook never came: event `hodei.reconciled`, a delivery id
 * made from the head (so every server that notices it stores the same one),
 * and a payload with the repository where GitHub and Gitea put it (the
 * processor orders a repository's deliveries by it) and the head as a push
 * or a pull request event. They go through the same processor and handlers
 * as the forge's own deliveries.
 */
import { createHash } from "node:crypto";
import type { PullRequestInfo } from "../forge/forge.js";
import type { ForgeKind } from "./delivery-store.js";
import { ignored, type Normalised, Reader, refKind, type RepoRef } from "./forge-event.js";

export const RECONCILED_EVENT = "hodei.reconciled";
const PREFIX = "hodei-reconciled-";
/** Who a reconciled run names as its sender. */
export const RECONCILER_SENDER = "hodei-reconciler";

export type ReconciledHead =
  | { kind: "push"; ref: string; before: string | null; after: string }
  | { kind: "pull_request"; action: "opened" | "synchronize"; pr: PullRequestInfo };

export interface ReconciledDelivery {
  forge: ForgeKind;
  deliveryId: string;
  event: typeof RECONCILED_EVENT;
  payload: string;
  /** The head in words, for the log: `refs/heads/main at 1a2b3c4d5e6f`. */
  what: string;
}

/** True for a delivery the reconciler stored, not the forge. */
export function isReconciledDelivery(deliveryId: string | null): boolean {
  return deliveryId !== null && deliveryId.startsWith(PREFIX);
}

export function reconciledDelivery(repo: RepoRef, head: ReconciledHead): ReconciledDelivery {
  const ref = head.kind === "push" ? head.ref : `refs/pull/${head.pr.number}/head`;
  const sha = head.kind === "push" ? head.after : head.pr.headSha;
  const digest = createHash("sha256").update(`${repo.fullName}\0${ref}\0${sha}`).digest("hex").slice(0, 32);
  const payload = {
    repository: { full_name: repo.fullName, name: repo.name, owner: { login: repo.owner }, clone_url: repo.cloneUrl },
    ...(repo.installationId !== null ? { installation: { id: repo.installationId } } : {}),
    head,
  };
  const what = head.kind === "push" ? `${ref} at ${sha.slice(0, 12)}` : `pull request #${head.pr.number} at ${sha.slice(0, 12)}`;
  return { forge: repo.forge, deliveryId: `${PREFIX}${digest}`, event: RECONCILED_EVENT, payload: JSON.stringify(payload), what };
}

export function normaliseReconciled(forge: ForgeKind, payload: unknown): Normalised {
  const r = new Reader(RECONCILED_EVENT, payload);
  const fullName = r.str("repository.full_name");
  const repo: RepoRef = {
    forge,
    owner: r.str("repository.owner.login"),
    name: r.str("repository.name"),
    fullName,
    cloneUrl: r.str("repository.clone_url"),
    installationId: r.optNum("installation.id"),
  };
  const kind = r.str("head.kind");
  if (kind === "push") {
    const ref = r.str("head.ref");
    const { branch, tag } = refKind(ref);
    return { ok: true, event: { kind: "push", repo, ref, branch, tag, before: r.optStr("head.before"), after: r.str("head.after"), sender: RECONCILER_SENDER } };
  }
  if (kind === "pull_request") {
    const action = r.str("head.action");
    if (action !== "opened" && action !== "synchronize") return ignored(`reconciled pull request ${action}`);
    return {
      ok: true,
      event: {
        kind: "pull_request",
        action,
        repo,
        number: r.num("head.pr.number"),
        head: { sha: r.str("head.pr.headSha"), ref: r.str("head.pr.headRef"), cloneUrl: null },
        base: { ref: r.str("head.pr.baseRef"), sha: r.optStr("head.pr.baseSha") },
        fork: r.at("head.pr.fork") !== false,
        sender: RECONCILER_SENDER,
      },
    };
  }
  return ignored(`reconciled head of kind ${kind}`);
}
