/**
 * Deliveries the scheduler (src/triggers/schedule-runner.ts) stores for a
 * schedule's slot: event `hodei.schedule`, a delivery id made from the slot
 * (the same on every server), and a payload with the repository where GitHub
 * and Gitea put it and the slot to run. They go through the same processor
 * as the forge's own deliveries: retried, recovered after a crash, and the
 * run found again by its delivery id instead of started twice.
 */
import { createHash } from "node:crypto";
import type { ForgeKind } from "./delivery-store.js";
import { type Normalised, Reader, type RepoRef } from "./forge-event.js";

export const SCHEDULE_EVENT = "hodei.schedule";
const PREFIX = "hodei-schedule-";
/** Who a scheduled run names as its sender. */
export const SCHEDULER_SENDER = "hodei-scheduler";

/** One slot of a recorded schedule: what to run and when it was due. */
export interface ScheduledSlot {
  forge: ForgeKind;
  /** `owner/name`. */
  repo: string;
  cloneUrl: string;
  installationId: number | null;
  scheduleKey: string;
  branch: string;
  headSha: string;
  cron: string;
  timezone: string;
  slot: Date;
}

export interface ScheduleDelivery {
  forge: ForgeKind;
  deliveryId: string;
  event: typeof SCHEDULE_EVENT;
  payload: string;
}

export function scheduleDelivery(s: ScheduledSlot): ScheduleDelivery {
  const digest = createHash("sha256").update(`${s.forge}\0${s.repo}\0${s.scheduleKey}\0${s.slot.toISOString()}`).digest("hex").slice(0, 32);
  const [owner = "", name = ""] = s.repo.split("/");
  const payload = {
    repository: { full_name: s.repo, name, owner: { login: owner }, clone_url: s.cloneUrl },
    ...(s.installationId !== null ? { installation: { id: s.installationId } } : {}),
    schedule: { branch: s.branch, sha: s.headSha, cron: s.cron, timezone: s.timezone, slot: s.slot.toISOString() },
  };
  return { forge: s.forge, deliveryId: `${PREFIX}${digest}`, event: SCHEDULE_EVENT, payload: JSON.stringify(payload) };
}

export function normaliseSchedule(forge: ForgeKind, payload: unknown): Normalised {
  const r = new Reader(SCHEDULE_EVENT, payload);
  const repo: RepoRef = {
    forge,
    owner: r.str("repository.owner.login"),
    name: r.str("repository.name"),
    fullName: r.str("repository.full_name"),
    cloneUrl: r.str("repository.clone_url"),
    installationId: r.optNum("installation.id"),
  };
  return {
    ok: true,
    event: {
      kind: "schedule",
      repo,
      branch: r.str("schedule.branch"),
      sha: r.str("schedule.sha"),
      cron: r.str("schedule.cron"),
      timezone: r.str("schedule.timezone"),
      slot: r.str("schedule.slot"),
    },
  };
}
