/** `hodei server` as the README's quick start starts it: embedded store, URLs printed, health answering. */
import { spawn } from "node:child_process";
import { expect, it } from "vitest";
import { tempDir } from "../helpers/databases.js";
import { hodeiBin, repoRoot } from "../helpers/hodei-cli.js";

it("starts on the embedded store, prints its URLs, answers /healthz and stops cleanly on SIGTERM", async () => {
  const dataDir = await tempDir();
  const child = spawn(process.execPath, [hodeiBin, "server"], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: "", HODEI_DATA_DIR: dataDir, HODEI_PORT: "0", HODEI_GRPC_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await expect.poll(() => out, { timeout: 45_000, interval: 100 }).toMatch(/health +http:\/\/127\.0\.0\.1:\d+\/healthz/);
    expect(out).toMatch(/Initialising the embedded Postgres/);
    expect(out).toMatch(/GitHub webhooks +http:\/\/127\.0\.0\.1:\d+\/webhooks\/github +\(off: set HODEI_GITHUB_WEBHOOK_SECRET\)/);
    const url = /health +(\S+)/.exec(out)![1]!;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  } finally {
    child.kill("SIGTERM");
  }
  expect(await exited).toBe(0);
});
