/**
 * A real git fetch that hangs: the URL is served by a TCP server on
 * 127.0.0.1 that accepts connections and never answers. The fetch ends at
 * its time limit with the reason, its processes (git and its remote helper)
 * are killed, and later work on the same repository is not held up.
 */
import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GitTimeoutError } from "../../src/git/git-process.js";
import { GitMirrors } from "../../src/git/mirror.js";
import { openTestDatabase, tempDir } from "../helpers/databases.js";
import { getDelivery, insertDelivery } from "../../src/webhooks/delivery-store.js";
import { DeliveryProcessor } from "../../src/webhooks/processor.js";
import { createRepo } from "./repos.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A URL whose server accepts the connection, reads the request and never answers. */
async function hangingUrl(): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.push(socket);
    socket.on("error", () => undefined);
    socket.resume();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no address");
  return { url: `http://127.0.0.1:${address.port}/octo/hung.git`, connections: () => connections };
}

/** Processes whose command line mentions `needle` (git and its git-remote-http child carry the URL). */
async function processesWith(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(needle) && !cmdline.includes("vitest")) found.push(Number(entry));
  }
  return found;
}

describe("git process time limits", () => {
  it("ends a hung fetch with the reason, kills its processes, and does not hold up the repository's next fetch", async () => {
    const { url, connections } = await hangingUrl();
    const m = new GitMirrors({ root: await tempDir("hodei-mirrors-"), allowFileRepos: false, timeouts: { fetchMs: 1500, localMs: 30_000 } });
    const first = m.ensureCommit(url, SHA);
    await expect.poll(() => connections(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => processesWith(url).then((p) => p.length), { timeout: 10_000 }).toBeGreaterThan(0);
    const error: unknown = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitTimeoutError);
    expect((error as Error).message).toBe(`git fetch of ${url} timed out after 1.5 s`);
    // The whole process group went: git and the git-remote-http it started.
    await expect.poll(() => processesWith(url), { timeout: 5000 }).toEqual([]);
    // The repository's queue moved on: the next push's fetch runs (and meets the same hung server).
    await expect(m.resolveRef(url, "refs/heads/main")).rejects.toThrow(`git fetch of ${url} timed out after 1.5 s`);
    expect(connections()).toBeGreaterThanOrEqual(2);
  });

  it("a fetch that finishes in time is unaffected by the limit", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "a\n" });
    const m = new GitMirrors({ root: await tempDir("hodei-mirrors-"), allowFileRepos: true, timeouts: { fetchMs: 60_000, localMs: 60_000 } });
    await m.ensureCommit(repo.url, sha);
    expect(await m.readFile(repo.url, sha, "a.txt")).toBe("a\n");
  });

  it("puts the timeout's reason in the delivery's outcome", async () => {
    const db = await openTestDatabase("pglite");
    const { url } = await hangingUrl();
    const m = new GitMirrors({ root: await tempDir("hodei-mirrors-"), allowFileRepos: false, timeouts: { fetchMs: 1000, localMs: 30_000 } });
    const key = { forge: "github" as const, deliveryId: randomUUID() };
    await insertDelivery(db, { ...key, event: "push", payload: JSON.stringify({ repository: { full_name: "octo/hung" } }) }, new Date(), { channel: "unheard", payload: "" });
    const p = new DeliveryProcessor({
      db,
      owner: "node-test",
      maxAttempts: 1,
      onError: () => undefined,
      // What the push trigger does first: make sure the pushed commit is in the mirror.
      handle: async () => {
        await m.ensureCommit(url, SHA);
        return { status: "done", outcome: "fetched" };
      },
    });
    try {
      await p.start();
      await expect.poll(() => getDelivery(db, key).then((d) => d?.status), { timeout: 20_000 }).toBe("failed");
      expect((await getDelivery(db, key))?.outcome).toBe(`attempt 1: git fetch of ${url} timed out after 1 s`);
    } finally {
      await p.stop();
    }
  });
});
