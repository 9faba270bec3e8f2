/**
 * Stored webhook deliveries (table `webhook_deliveries`). A delivery is
 * written before the forge is answered, claimed by the processor after, and
 * finished with an outcome; the primary key (forge, delivery id) is what makes
 * a redelivery start nothing new.
 */
import type { Database, Queryable } from "../store/database.js";

export type ForgeKind = "github" | "gitea";
export type DeliveryStatus = "pending" | "processing" | "done" | "ignored" | "failed";

export interface StoredDelivery {
  forge: ForgeKind;
  deliveryId: string;
  event: string;
  payload: unknown;
  attempts: number;
}

interface DeliveryRow {
  forge: ForgeKind;
  delivery_id: string;
  event: string;
  payload: unknown;
  attempts: number;
  received_at: Date;
}

/**
 * Stores a new delivery as pending and, when it is new, sends `notify` with
 * it; false when this forge already sent this delivery id. One statement, so
 * one round trip and its own transaction: the NOTIFY goes out when the insert
 * commits, or not at all.
 */
export async function insertDelivery(
  db: Pick<Database, "queryUrgent">,
  d: { forge: ForgeKind; deliveryId: string; event: string; payload: string },
  at: Date,
  notify: { channel: string; payload: string },
): Promise<boolean> {
  // The forge waits for the answer: ahead of the background work (processing, runs).
  const { rowCount } = await db.queryUrgent(
    `with inserted as (
       insert into webhook_deliveries (forge, delivery_id, event, payload, received_at, status)
       values ($1, $2, $3, $4::jsonb, $5, 'pending')
       on conflict (forge, delivery_id) do nothing
       returning 1)
     select pg_notify($6, $7) from inserted`,
    [d.forge, d.deliveryId, d.event, d.payload, at, notify.channel, notify.payload],
  );
  return rowCount === 1;
}

/** Who claims, and until when the claim holds unless renewed. */
export interface Claim {
  /** The claiming server's node identity (src/server/node-id.ts). */
  owner: string;
  at: Date;
  expiresAt: Date;
}

export interface DeliveryKey {
  forge: ForgeKind;
  deliveryId: string;
}

/**
 * Claims up to `limit` pending deliveries, oldest first, for `claim.owner`
 * until `claim.expiresAt`. `skip locked` lets several servers share the table
 * without taking the same delivery twice.
 */
export async function claimDeliveries(db: Queryable, limit: number, claim: Claim): Promise<StoredDelivery[]> {
  const { rows } = await db.query<DeliveryRow>(
    `update webhook_deliveries d
        set status = 'processing', claimed_at = $2, claimed_by = $3, claim_expires_at = $4, attempts = d.attempts + 1
      where (d.forge, d.delivery_id) in (
        select forge, delivery_id from webhook_deliveries
         where status = 'pending'
         order by received_at
         limit $1
         for update skip locked)
     returning d.forge, d.delivery_id, d.event, d.payload, d.attempts, d.received_at`,
    [limit, claim.at, claim.owner, claim.expiresAt],
  );
  // `returning` keeps no order: process in arrival order.
  rows.sort((a, b) => a.received_at.getTime() - b.received_at.getTime());
  return rows.map((r) => ({ forge: r.forge, deliveryId: r.delivery_id, event: r.event, payload: r.payload, attempts: r.attempts }));
}

/**
 * Moves the expiry of `owner`'s claims on `keys` (what it still holds in
 * memory) to `expiresAt`. Returns the keys it still held: a claim that lapsed
 * and was re-queued or taken by another server is not renewed.
 */
export async function renewClaims(db: Queryable, owner: string, keys: readonly DeliveryKey[], expiresAt: Date): Promise<DeliveryKey[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<{ forge: ForgeKind; delivery_id: string }>(
    `update webhook_deliveries d
        set claim_expires_at = $2
       from jsonb_to_recordset($3::jsonb) as k(forge text, delivery_id text)
      where d.forge = k.forge and d.delivery_id = k.delivery_id
        and d.status = 'processing' and d.claimed_by = $1
     returning d.forge, d.delivery_id`,
    [owner, expiresAt, JSON.stringify(keys.map((k) => ({ forge: k.forge, delivery_id: k.deliveryId })))],
  );
  return rows.map((r) => ({ forge: r.forge, deliveryId: r.delivery_id }));
}

/**
 * Re-queues claims whose expiry lapsed before `at` (their owner stopped or
 * froze), and, when `restartedOwner` is given, every claim of that owner: a
 * server restarting under its old identity holds nothing any more. Live
 * claims of other servers are never touched.
 */
export async function releaseLapsedClaims(db: Queryable, at: Date, restartedOwner?: string): Promise<number> {
  const { rowCount } = await db.query(
    `update webhook_deliveries
        set status = 'pending', claimed_at = null, claimed_by = null, claim_expires_at = null
      where status = 'processing'
        and (claim_expires_at is null or claim_expires_at < $1 or claimed_by = $2)`,
    [at, restartedOwner ?? null],
  );
  return rowCount;
}

/**
 * Records what came of a delivery `owner` claimed; `pending` puts it back for
 * another attempt. False when the claim was no longer `owner`'s (it lapsed and
 * was re-queued or taken over): nothing is written then.
 */
export async function finishDelivery(
  db: Queryable,
  key: DeliveryKey,
  owner: string,
  status: Exclude<DeliveryStatus, "processing">,
  outcome: string,
  at: Date,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_deliveries
        set status = $4, outcome = $5, finished_at = case when $4 = 'pending' then null else $6::timestamptz end,
            claimed_by = null, claim_expires_at = null
      where forge = $1 and delivery_id = $2 and status = 'processing' and claimed_by = $3`,
    [key.forge, key.deliveryId, owner, status, outcome, at],
  );
  return rowCount === 1;
}

export async function getDelivery(
  db: Queryable,
  key: { forge: ForgeKind; deliveryId: string },
): Promise<{ status: DeliveryStatus; outcome: string | null; attempts: number } | null> {
  const { rows } = await db.query<{ status: DeliveryStatus; outcome: string | null; attempts: number }>(
    `select status, outcome, attempts from webhook_deliveries where forge = $1 and delivery_id = $2`,
    [key.forge, key.deliveryId],
  );
  return rows[0] ?? null;
}
