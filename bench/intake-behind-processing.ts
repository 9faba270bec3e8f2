/**
 * Webhook answers while processing holds every store connection: 30 loops of
 * background statements (as 30 runs' appends and deliveries' processing
 * would) keep the connections busy, and signed `ping` deliveries are sent
 * over real HTTP at 10/s; prints the answers' latency. Not part of
 * `npm run bench`: it shows whether intake queues behind processing.
 *
 *   DATABASE_URL=postgres://... npx tsx bench/intake-behind-processing.ts [pglite|postgres]
 */
import { randomUUID } from "node:crypto";
import { buildHttpApp } from "../src/http/app.js";
import { migrate } from "../src/store/migrate.js";
import { openDatabase } from "../src/store/open.js";
import { signGithub } from "../src/webhooks/signature.js";
import { freshStore, type BenchStore } from "./stores.js";

const kind = (process.argv[2] ?? "postgres") as BenchStore;
const LOOPS = 30;
const STATEMENT = "select pg_sleep(0.05)";
const SECRET = "bench";

const store = await freshStore(kind);
const db = await openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir });
await migrate(db);
const app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
const address = await app.listen({ host: "127.0.0.1", port: 0 });

let running = true;
const loops = Array.from({ length: LOOPS }, async () => {
  while (running) await db.query(STATEMENT);
});

const latencies: number[] = [];
for (let i = 0; i < 50; i++) {
  const body = JSON.stringify({ zen: "bench", hook_id: 1, repository: { full_name: "octo/bench" } });
  const started = performance.now();
  const res = await fetch(`${address}/webhooks/github`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-delivery": randomUUID(), "x-github-event": "ping", "x-hub-signature-256": signGithub(SECRET, body) },
    body,
  });
  if (res.status !== 202) throw new Error(`answered ${res.status}`);
  latencies.push(performance.now() - started);
  await new Promise((r) => setTimeout(r, 100));
}
running = false;
await Promise.all(loops);
await app.close();
await db.close();
await store.dispose();

latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
console.log(`${kind}: ${LOOPS} loops of "${STATEMENT}" in the background; 50 deliveries: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`);
