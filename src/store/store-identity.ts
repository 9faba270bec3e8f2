/** The store's own id (migration 0007): the same for every control plane that shares the store. */
import type { Queryable } from "./database.js";

export async function storeIdentity(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ id: string }>("select id from store_identity");
  const id = rows[0]?.id;
  if (!id) throw new Error("the store has no identity row (migration 0007_store_identity not applied)");
  return id;
}
