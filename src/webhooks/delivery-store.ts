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

/**
 * Claims up to `limit` pending deliveries, oldest first. `skip locked` lets
 * several servers share the table without taking the same delivery twice.
 */
export async function claimDeliveries(db: Queryable, limit: number, at: Date): Promise<StoredDelivery[]> {
  const { rows } = await db.query<DeliveryRow>(
    `update webhook_deliveries d
        set status = 'processing', claimed_at = $2, attempts = d.attempts + 1
      where (d.forge, d.delivery_id) in (
        select forge, delivery_id from webhook_deliveries
         where status = 'pending'
         order by received_at
         limit $1
         for update skip locked)
     returning d.forge, d.delivery_id, d.event, d.payload, d.attempts, d.received_at`,
    [limit, at],
  );
  // `returning` keeps no order: process in arrival order.
  rows.sort((a, b) => a.received_at.getTime() - b.received_at.getTime());
  return rows.map((r) => ({ forge: r.forge, deliveryId: r.delivery_id, event: r.event, payload: r.payload, attempts: r.attempts }));
}

/**
 * At start: deliveries a previous process claimed but never finished (it
 * stopped or crashed mid-way) go back to pending. One server per database
 * is assumed here, as for the embedded store.
 */
export async function releaseAbandoned(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`update webhook_deliveries set status = 'pending', claimed_at = null where status = 'processing'`);
  return rowCount;
}

export async function finishDelivery(
  db: Queryable,
  key: { forge: ForgeKind; deliveryId: string },
  status: Exclude<DeliveryStatus, "processing">,
  outcome: string,
  at: Date,
): Promise<void> {
  await db.query(
    `update webhook_deliveries set status = $3, outcome = $4, finished_at = case when $3 = 'pending' then null else $5::timestamptz end
      where forge = $1 and delivery_id = $2`,
    [key.forge, key.deliveryId, status, outcome, at],
  );
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
