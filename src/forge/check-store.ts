/** Table `forge_checks`: the forge's id of each check, the last run event it reflects and what it showed. */
import type { Queryable } from "../store/database.js";

export interface StoredCheck {
  externalId: string | null;
  lastSeq: number;
  /** `status/conclusion/attempt` as last sent; null for rows written before it was kept. */
  shown: string | null;
}

export async function loadCheck(db: Queryable, runId: string, name: string): Promise<StoredCheck | null> {
  const { rows } = await db.query<{ external_id: string | null; last_seq: number; shown: string | null }>(
    `select external_id, last_seq, shown from forge_checks where run_id = $1 and name = $2`,
    [runId, name],
  );
  const row = rows[0];
  return row ? { externalId: row.external_id, lastSeq: row.last_seq, shown: row.shown } : null;
}

export async function saveCheck(db: Queryable, runId: string, name: string, externalId: string | null, seq: number, shown: string): Promise<void> {
  await db.query(
    `insert into forge_checks (run_id, name, external_id, last_seq, shown) values ($1, $2, $3, $4, $5)
     on conflict (run_id, name) do update set external_id = excluded.external_id, last_seq = greatest(forge_checks.last_seq, excluded.last_seq), shown = excluded.shown`,
    [runId, name, externalId, seq, shown],
  );
}
