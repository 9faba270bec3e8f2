/**
 * The heads Hodei has acted on or seen (table `forge_heads`): a branch
 * (`refs/heads/X`) or a pull request (`refs/pull/N/head`) at one commit.
 * The push and pull request handlers claim a head before starting its run;
 * the push reconciler starts runs only for heads without a row.
 */
import type { Queryable } from "../store/database.js";

export interface Head {
  forge: string;
  repo: string;
  /** `refs/heads/BRANCH` or `refs/pull/N/head`. */
  ref: string;
  sha: string;
}

export type HeadClaim =
  /** This delivery holds the head (first to claim it, or claimed it before: a retry). */
  | { kind: "claimed" }
  /** Another delivery claimed it first; `by` null: only seen in a repository's first listing. */
  | { kind: "taken"; by: string | null };

/** Claims `head` for `deliveryId`; the primary key makes one claim win when several race. */
export async function claimHead(db: Queryable, head: Head, deliveryId: string, at: Date): Promise<HeadClaim> {
  const inserted = await db.query(
    `insert into forge_heads (forge, repo, ref, sha, delivery_id, seen_at) values ($1, $2, $3, $4, $5, $6) on conflict do nothing returning 1`,
    [head.forge, head.repo, head.ref, head.sha, deliveryId, at],
  );
  if (inserted.rowCount === 1) return { kind: "claimed" };
  // A statement of its own: it sees the row of a claim that committed while the insert waited on it.
  const { rows } = await db.query<{ delivery_id: string | null }>(`select delivery_id from forge_heads where forge = $1 and repo = $2 and ref = $3 and sha = $4`, [
    head.forge,
    head.repo,
    head.ref,
    head.sha,
  ]);
  const by = rows[0]?.delivery_id ?? null;
  return by === deliveryId ? { kind: "claimed" } : { kind: "taken", by };
}

/** Records heads as seen without a run (a repository's first listing); known ones are left as they are. */
export async function recordSeenHeads(db: Queryable, heads: readonly Head[], at: Date): Promise<void> {
  if (heads.length === 0) return;
  await db.query(
    `insert into forge_heads (forge, repo, ref, sha, delivery_id, seen_at)
     select h.forge, h.repo, h.ref, h.sha, null, $2 from jsonb_to_recordset($1::jsonb) as h(forge text, repo text, ref text, sha text)
     on conflict do nothing`,
    [JSON.stringify(heads), at],
  );
}

export interface KnownRef {
  /** Every commit recorded for the ref. */
  shas: Set<string>;
  /** The one recorded last: a reconciled push's `before`. */
  latest: string;
}

/** What `forge_heads` knows of a repository's refs, by ref. */
export async function knownRefs(db: Queryable, forge: string, repo: string): Promise<Map<string, KnownRef>> {
  const { rows } = await db.query<{ ref: string; sha: string }>(`select ref, sha from forge_heads where forge = $1 and repo = $2 order by seen_at`, [forge, repo]);
  const out = new Map<string, KnownRef>();
  for (const r of rows) {
    const known = out.get(r.ref) ?? { shas: new Set<string>(), latest: r.sha };
    known.shas.add(r.sha);
    known.latest = r.sha;
    out.set(r.ref, known);
  }
  return out;
}
