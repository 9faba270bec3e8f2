/**
 * Whether a repository is public, as its forge says in every webhook
 * delivery (`repository.private`, GitHub and Gitea alike). Public reading
 * (HODEI_PUBLIC_READ) opens only repositories recorded public here or by a
 * signed-in person's listing; unknown ones count as private.
 */
import type { Queryable } from "../store/database.js";

/** Notes the visibility a delivery's payload states; payloads without one change nothing. */
export async function recordVisibilityFromPayload(db: Queryable, forge: string, payload: unknown, at: Date): Promise<void> {
  const repository = (payload as { repository?: { full_name?: unknown; private?: unknown } } | null)?.repository;
  if (typeof repository?.full_name !== "string" || typeof repository.private !== "boolean") return;
  await db.query(
    `insert into repo_visibility (forge, repo, private, updated_at) values ($1, $2, $3, $4)
     on conflict (forge, repo) do update set private = excluded.private, updated_at = excluded.updated_at`,
    [forge, repository.full_name, repository.private, at],
  );
}
