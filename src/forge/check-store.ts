/** Table `forge_checks`: the forge's id of each check and the last run event it reflects. */
import type { Queryable } from "../store/database.js";

export async function loadCheck(db: Queryable, runId: string, name: string): Promise<{ externalId: string | null; lastSeq: number } | null> {
  const { rows } = await db.query<{ external_id: string | null; last_seq: number }>(
    `select external_id, last_seq from forge_checks where run_id = $1 and name = $2`,
    [runId, name],
  );
  const row = rows[0];
  return row ? { externalId: row.external_id, lastSeq: row.last_seq } : null;
}

export async function saveCheck(db: Queryable, runId: string, name: string, externalId: string | null, seq: number): Promise<void> {
  await db.query(
    `insert into forge_checks (run_id, name, external_id, last_seq) values ($1, $2, $3, $4)
     on conflict (run_id, name) do update set external_id = excluded.external_id, last_seq = greatest(forge_checks.last_seq, excluded.last_seq)`,
    [runId, name, externalId, seq],
  );
}
