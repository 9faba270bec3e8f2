/**
 * The runs list API with 10,000 stored runs (issue 8): `GET /api/runs` first
 * page, a repository's page, and a deep page through the cursor, through
 * fastify's request handling, against the bare SQL of the same query.
 */
import { buildHttpApp } from "../src/http/app.js";
import { migrate } from "../src/store/migrate.js";
import { openDatabase } from "../src/store/open.js";
import type { Database } from "../src/store/database.js";
import { median, type Benchmark, type Samples } from "./harness.js";
import { freshStore, type BenchStore } from "./stores.js";

const RUNS = 10_000;

/** 10,000 runs over 20 repositories, one a minute, each with three stages. */
async function seed(db: Database): Promise<void> {
  await db.query(
    `insert into runs (id, repo, sha, ref, event, pipeline, status, conclusion, last_seq, created_at, started_at, finished_at)
     select 'run-' || i, 'acme/repo' || (i % 20), md5(i::text) || md5(i::text), 'refs/heads/main', 'push', 'ci',
            'completed', case when i % 7 = 0 then 'failure' else 'success' end, 1,
            timestamptz '2026-01-01' + i * interval '1 minute',
            timestamptz '2026-01-01' + i * interval '1 minute' + interval '2 seconds',
            timestamptz '2026-01-01' + i * interval '1 minute' + interval '90 seconds'
       from generate_series(1, $1::int) as i`,
    [RUNS],
  );
  await db.query(
    `insert into run_stages (run_id, stage_id, position, name, needs, status, conclusion, attempt)
     select r.id, s.name, s.pos, s.name, '[]'::jsonb, 'completed', 'success', 1
       from runs r cross join (values ('build', 0), ('test', 1), ('lint', 2)) as s(name, pos)`,
  );
  await db.query("analyze");
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export function runsListBenchmark(kind: BenchStore): Benchmark {
  return {
    id: `api.runs-list.10k.${kind}`,
    title: `GET /api/runs with 10,000 runs (${kind})`,
    measures: `median latency of 30 requests through the HTTP app (in-process inject, JSON serialisation included), alternating the first page (limit 50), one repository's first page and a page 100 deep through the \`before\` cursor, on ${kind}.`,
    baselineDescription: "the same keyset query, issued directly on the store.",
    unit: "ms",
    target: { direction: "below", value: 50 },
    repetitions: 5,
    async run(reps): Promise<Samples> {
      const store = await freshStore(kind);
      const db = await openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir });
      try {
        await migrate(db);
        await seed(db);
        const app = buildHttpApp({ db, webhookSecrets: {} });
        const deep = (await app.inject("/api/runs?limit=100")).json<{ next: string }>().next;
        const urls = ["/api/runs?limit=50", "/api/runs?limit=50&repo=acme/repo7", `/api/runs?limit=50&before=${deep}`];
        for (const u of urls) await app.inject(u); // warm-up
        const values: number[] = [];
        const baseline: number[] = [];
        for (let r = 0; r < reps; r++) {
          const api: number[] = [];
          const sql: number[] = [];
          for (let i = 0; i < 30; i++) {
            const url = urls[i % urls.length]!;
            api.push(
              await timeIt(async () => {
                const res = await app.inject(url);
                if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
              }),
            );
            sql.push(
              await timeIt(() =>
                db.query(
                  `select * from runs where ($1::text is null or repo = $1) order by created_at desc, id desc limit 51`,
                  [i % 3 === 1 ? "acme/repo7" : null],
                ),
              ),
            );
          }
          values.push(median(api));
          baseline.push(median(sql));
        }
        await app.close();
        return { values, baseline };
      } finally {
        await db.close();
        await store.dispose();
      }
    },
  };
}
