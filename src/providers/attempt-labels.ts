/**
 * How provisioned containers and pods are labelled, so that what belongs to
 * which attempt, of which store, can be found again after a restart (orphan
 * clean-up) without touching what other control planes provisioned.
 */
import type { AttemptRef } from "../engine/ports.js";

export const LABEL_MANAGED = "hodei.managed";
export const LABEL_RUN = "hodei.run";
export const LABEL_STAGE = "hodei.stage";
export const LABEL_ATTEMPT = "hodei.attempt";
/** The store (store_identity) whose run the attempt belongs to. */
export const LABEL_STORE = "hodei.store";
/** The control plane (node identity) that provisioned it. */
export const LABEL_OWNER = "hodei.owner";

/** Who provisions: the store the runs live in, and the control-plane process. */
export interface ProvisionerIdentity {
  store: string;
  owner: string;
}

export function attemptLabels(ref: AttemptRef, who: ProvisionerIdentity): Record<string, string> {
  return {
    [LABEL_MANAGED]: "true",
    [LABEL_STORE]: who.store,
    [LABEL_RUN]: ref.runId,
    [LABEL_STAGE]: ref.stageId,
    [LABEL_ATTEMPT]: String(ref.attempt),
    [LABEL_OWNER]: who.owner,
  };
}

/** The label selector for what was provisioned for runs of this store: `hodei.managed=true,hodei.store=<id>`. */
export function storeSelector(store: string): string[] {
  return [`${LABEL_MANAGED}=true`, `${LABEL_STORE}=${store}`];
}

/** The attempt a labelled object belongs to; null when the labels are not ours or incomplete. */
export function attemptOfLabels(labels: Readonly<Record<string, string | undefined>> | undefined): AttemptRef | null {
  const runId = labels?.[LABEL_RUN];
  const stageId = labels?.[LABEL_STAGE];
  const attempt = Number(labels?.[LABEL_ATTEMPT]);
  if (!runId || !stageId || !Number.isInteger(attempt) || attempt < 1) return null;
  return { runId, stageId, attempt };
}
