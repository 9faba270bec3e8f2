/**
 * The recorded schedules of `on.schedule` (table `pipeline_schedules`) and
 * the slots that fired (table `schedule_slots`), migration 0016.
 */
import { createHash } from "node:crypto";
import type { PlannedSchedule } from "../pipeline-parser/types.js";
import type { Database, Queryable } from "../store/database.js";
import type { ForgeKind } from "../webhooks/delivery-store.js";
import type { ScheduleDelivery } from "../webhooks/schedule-events.js";

/** The branch head whose pipeline file defines the branch's schedules. */
export interface BranchHead {
  forge: ForgeKind;
  repo: string;
  branch: string;
  sha: string;
  cloneUrl: string;
  installationId: number | null;
}

export interface RecordedSchedule {
  forge: ForgeKind;
  repo: string;
  scheduleKey: string;
  branch: string;
  cron: string;
  timezone: string;
  headSha: string;
  cloneUrl: string;
  installationId: number | null;
  since: Date;
  /** The newest slot of the schedule that fired, if any. */
  lastSlot: Date | null;
}

/** A schedule's identity across pushes: the same cron (fields, not spacing), branch and time zone. */
export function scheduleKey(s: PlannedSchedule): string {
  return createHash("sha256").update(JSON.stringify([s.cron.trim().split(/\s+/), s.branch, s.timezone])).digest("hex").slice(0, 32);
}

/**
 * Makes `schedules` (those of `head.branch`; others are left out) the
 * branch's schedules: others of the branch go, new ones start at `at`, kept
 * ones keep their start and now run `head.sha`.
 */
export async function recordBranchSchedules(db: Database, head: BranchHead, schedules: readonly PlannedSchedule[], at: Date): Promise<void> {
  const own = new Map(schedules.filter((s) => s.branch === head.branch).map((s) => [scheduleKey(s), s]));
  const rows = [...own].map(([key, s]) => ({ key, cron: s.cron, timezone: s.timezone }));
  await db.transaction(async (tx) => {
    await tx.query(
      `with gone as (
         delete from pipeline_schedules where forge = $1 and repo = $2 and branch = $3 and not (schedule_key = any($4::text[]))
         returning forge, repo, schedule_key)
       delete from schedule_slots c using gone g where c.forge = g.forge and c.repo = g.repo and c.schedule_key = g.schedule_key`,
      [head.forge, head.repo, head.branch, rows.map((r) => r.key)],
    );
    if (rows.length === 0) return;
    await tx.query(
      `insert into pipeline_schedules (forge, repo, schedule_key, branch, cron, timezone, head_sha, clone_url, installation_id, since, updated_at)
       select $1, $2, s.key, $3, s.cron, s.timezone, $4, $5, $6, $7, $7 from jsonb_to_recordset($8::jsonb) as s(key text, cron text, timezone text)
       on conflict (forge, repo, schedule_key) do update
         set head_sha = excluded.head_sha, clone_url = excluded.clone_url, installation_id = excluded.installation_id, updated_at = excluded.updated_at`,
      [head.forge, head.repo, head.branch, head.sha, head.cloneUrl, head.installationId, at, JSON.stringify(rows)],
    );
  });
}

/** Ends the schedules of a deleted branch; returns how many there were. */
export async function deleteBranchSchedules(db: Queryable, b: { forge: ForgeKind; repo: string; branch: string }): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `with gone as (
       delete from pipeline_schedules where forge = $1 and repo = $2 and branch = $3
       returning forge, repo, schedule_key),
     slots as (
       delete from schedule_slots c using gone g where c.forge = g.forge and c.repo = g.repo and c.schedule_key = g.schedule_key)
     select count(*)::int as n from gone`,
    [b.forge, b.repo, b.branch],
  );
  return rows[0]?.n ?? 0;
}

/** Every recorded schedule, with the newest slot of each that fired. */
export async function recordedSchedules(db: Queryable): Promise<RecordedSchedule[]> {
  const { rows } = await db.query<{
    forge: ForgeKind;
    repo: string;
    schedule_key: string;
    branch: string;
    cron: string;
    timezone: string;
    head_sha: string;
    clone_url: string;
    installation_id: number | null;
    since: Date;
    last_slot: Date | null;
  }>(
    `select s.forge, s.repo, s.schedule_key, s.branch, s.cron, s.timezone, s.head_sha, s.clone_url, s.installation_id, s.since,
            (select max(c.slot) from schedule_slots c where c.forge = s.forge and c.repo = s.repo and c.schedule_key = s.schedule_key) as last_slot
       from pipeline_schedules s
      order by s.forge, s.repo, s.schedule_key`,
  );
  return rows.map((r) => ({
    forge: r.forge,
    repo: r.repo,
    scheduleKey: r.schedule_key,
    branch: r.branch,
    cron: r.cron,
    timezone: r.timezone,
    headSha: r.head_sha,
    cloneUrl: r.clone_url,
    installationId: r.installation_id,
    since: r.since,
    lastSlot: r.last_slot,
  }));
}

/** How long a fired slot's claim is kept after a newer slot of its schedule fired (only the newest slot can fire). */
export const SLOT_CLAIM_RETENTION = "1 day";

/**
 * Claims the slot for `owner` and stores its delivery, in one statement: the
 * primary key of `schedule_slots` lets one claim win when several servers
 * race, and only the winner's delivery is stored (and announced on `notify`).
 * True if this call claimed it. Claims of the schedule's slots older than
 * SLOT_CLAIM_RETENTION before it go (a schedule fires only its newest slot,
 * so they block nothing).
 */
export async function claimSlot(
  db: Queryable,
  s: { forge: ForgeKind; repo: string; scheduleKey: string; slot: Date },
  delivery: ScheduleDelivery,
  claim: { owner: string; at: Date },
  notify: { channel: string; payload: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `with claimed as (
       insert into schedule_slots (forge, repo, schedule_key, slot, claimed_by, claimed_at, delivery_id)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict do nothing
       returning 1),
     delivered as (
       insert into webhook_deliveries (forge, delivery_id, event, payload, received_at, status)
       select $1, $7, $8, $9::jsonb, $6, 'pending' from claimed
       on conflict (forge, delivery_id) do nothing
       returning 1),
     pruned as (
       delete from schedule_slots c using claimed
        where c.forge = $1 and c.repo = $2 and c.schedule_key = $3 and c.slot < $4::timestamptz - $12::interval)
     select pg_notify($10, $11) from delivered`,
    [s.forge, s.repo, s.scheduleKey, s.slot, claim.owner, claim.at, delivery.deliveryId, delivery.event, delivery.payload, notify.channel, notify.payload, SLOT_CLAIM_RETENTION],
  );
  return rowCount === 1;
}
