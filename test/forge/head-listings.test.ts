/**
 * The forge adapters' listings of branch heads and open pull requests, against
 * the local GitHub and Gitea (requests checked against their API descriptions,
 * the fakes' answers against the response schemas): pages followed up to the
 * limit, fork heads told apart, rate limits passed on as waits.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ForgeError } from "../../src/forge/forge.js";
import { GiteaForge } from "../../src/forge/gitea.js";
import { GithubForge } from "../../src/forge/github.js";
import type { Answer, FakeForge } from "./fake-forge.js";
import { fakeGitea } from "./fake-gitea.js";
import { fakeGithub } from "./fake-github.js";

const repo = { owner: "octo", name: "widgets", installationId: null };
const sha = (i: number) => i.toString(16).padStart(40, "0");
const branches = (n: number) => new Map(Array.from({ length: n }, (_, i) => [`b${i}`, sha(i + 1)]));
const pulls = () =>
  new Map([
    [3, { headSha: sha(3), headRef: "feature", baseRef: "main", baseSha: sha(1) }],
    [4, { headSha: sha(4), headRef: "changes", baseRef: "main", baseSha: sha(1), fork: true }],
    [5, { headSha: sha(5), headRef: "old", baseRef: "main", baseSha: sha(1), closed: true }],
  ]);

let fake: FakeForge | null = null;
afterEach(async () => {
  await fake?.stop();
  fake = null;
});

describe("GitHub listings", () => {
  it("follows pages of 100 up to the limit, says when it stopped short, and lists open pull requests with their fork flag", async () => {
    fake = await fakeGithub({ permissions: new Map(), pulls: pulls(), branches: branches(230) }).start();
    const github = new GithubForge({ apiUrl: fake.url, auth: { kind: "token", token: "t" } });
    const all = await github.branches(repo, 500);
    expect(all.items).toHaveLength(230);
    expect(all.truncated).toBe(false);
    expect(all.items[229]).toEqual({ name: "b229", sha: sha(230) });
    expect(fake.byOperation("repos/list-branches").map((r) => r.query.toString())).toEqual(["per_page=100&page=1", "per_page=100&page=2", "per_page=100&page=3"]);
    const some = await github.branches(repo, 150);
    expect(some.items).toHaveLength(150);
    expect(some.truncated).toBe(true);
    const prs = await github.openPullRequests(repo, 100);
    expect(prs.items.map((p) => [p.number, p.headSha, p.headRef, p.baseRef, p.fork])).toEqual([
      [3, sha(3), "feature", "main", false],
      [4, sha(4), "changes", "main", true],
    ]);
    expect(fake.byOperation("pulls/list")[0]?.query.get("state")).toBe("open");
    expect(fake.violations).toEqual([]);
  });

  it("a rate-limited listing fails retryable with the wait GitHub asked for; a page that used the quota up says how long to wait", async () => {
    let limited = true;
    const reset = String(Math.floor(Date.now() / 1000) + 120);
    fake = await fakeGithub({
      permissions: new Map(),
      pulls: new Map(),
      branches: branches(3),
      override: (req): Answer | undefined =>
        req.operationId !== "repos/list-branches"
          ? undefined
          : limited
            ? { status: 403, body: { message: "API rate limit exceeded" }, headers: { "retry-after": "42" } }
            : { status: 200, body: [{ name: "main", commit: { sha: sha(1), url: "https://api.github.com/x" }, protected: false }], headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset } },
    }).start();
    const github = new GithubForge({ apiUrl: fake.url, auth: { kind: "token", token: "t" } });
    const error = await github.branches(repo, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({ status: 403, retryable: true, retryAfterSeconds: 42 });
    limited = false;
    const listing = await github.branches(repo, 10);
    expect(listing.items).toEqual([{ name: "main", sha: sha(1) }]);
    expect(listing.waitSeconds).toBeGreaterThan(100);
    expect(fake.violations).toEqual([]);
  });
});

describe("Gitea listings", () => {
  it("follows pages of 50 up to the limit and lists open pull requests with their fork flag", async () => {
    fake = await fakeGitea({ permissions: new Map(), pulls: pulls(), branches: branches(70) }).start();
    const gitea = new GiteaForge({ url: fake.url, token: "t" });
    const all = await gitea.branches(repo, 500);
    expect(all.items).toHaveLength(70);
    expect(all.truncated).toBe(false);
    expect(fake.byOperation("repoListBranches").map((r) => r.query.toString())).toEqual(["page=1&limit=50", "page=2&limit=50"]);
    const some = await gitea.branches(repo, 20);
    expect(some).toMatchObject({ truncated: true });
    expect(some.items).toHaveLength(20);
    const prs = await gitea.openPullRequests(repo, 100);
    expect(prs.items.map((p) => [p.number, p.headSha, p.fork])).toEqual([
      [3, sha(3), false],
      [4, sha(4), true],
    ]);
    expect(fake.byOperation("repoListPullRequests")[0]?.query.get("state")).toBe("open");
    expect(fake.violations).toEqual([]);
  });

  it("a 429 is retryable with Gitea's retry-after", async () => {
    fake = await fakeGitea({ permissions: new Map(), pulls: new Map(), override: () => ({ status: 429, body: { message: "slow down" }, headers: { "retry-after": "9" } }) }).start();
    const gitea = new GiteaForge({ url: fake.url, token: "t" });
    await expect(gitea.openPullRequests(repo, 10)).rejects.toMatchObject({ status: 429, retryable: true, retryAfterSeconds: 9 });
  });
});

describe("the fakes' contract checks", () => {
  it("refuse a query parameter the description does not have, and a listing answer that breaks the response schema", async () => {
    fake = await fakeGithub({ permissions: new Map(), pulls: new Map(), override: (req) => (req.operationId === "repos/list-branches" ? { status: 200, body: [{ name: "main" }] } : undefined) }).start();
    await fetch(`${fake.url}/repos/octo/widgets/pulls?state=opened`);
    await fetch(`${fake.url}/repos/octo/widgets/pulls?colour=blue`);
    await fetch(`${fake.url}/repos/octo/widgets/branches`);
    expect(fake.violations.join("\n")).toMatch(/state=opened/);
    expect(fake.violations.join("\n")).toMatch(/query parameter colour is not described/);
    expect(fake.violations.join("\n")).toMatch(/answer to GET \/repos\/\{owner\}\/\{repo\}\/branches: \/0 must have required property 'commit'/);
  });
});
