/**
 * The dashboard with sign-in, in real headless Chromium: a visitor is
 * offered "Sign in with GitHub", signs in through the stand-in forge (real
 * redirects), sees only the runs of repositories they may read, re-runs one
 * without being asked for a token (cookie and CSRF token), sees no buttons
 * on a repository they may only read, creates a personal token (shown
 * once) that works until revoked on the tokens page, and signs out.
 * Leaves a screenshot in test-artifacts/dashboard-signed-in.png.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { CHROMIUM, launchBrowser } from "../dashboard/browser.js";
import { startAccessServer, type AccessServer } from "./access-fixture.js";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
// As in test/dashboard/run-page.test.ts: skipped only outside CI without Debian's chromium; in CI a missing browser fails.
const chromiumMissing = !existsSync(CHROMIUM) && !process.env.CI;

describe.skipIf(chromiumMissing)("the dashboard with sign-in, in Chromium", () => {
  let s: AccessServer;
  let browser: Browser;
  const runs: Record<string, string> = {};

  beforeAll(async () => {
    browser = await launchBrowser();
    s = await startAccessServer(await testStore("pglite").create(), { forges: ["github"] });
    s.forges.get("github")!.addUser({
      id: 1,
      login: "octocat",
      name: "The Octocat",
      repos: [
        { repo: "acme/widgets", private: true, permission: "write" },
        { repo: "acme/public-lib", private: false, permission: "read" },
      ],
    });
    for (const repo of ["acme/widgets", "acme/hidden", "acme/public-lib"]) {
      runs[repo] = await s.startRun(repo, [stage("a", { commands: ["echo hi"] })]);
      await s.control.engine.waitForRun(runs[repo]);
    }
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it("signs in through the forge, shows only permitted repositories, re-runs with the session, creates and revokes a personal token, signs out", async () => {
    const github = s.forges.get("github")!;
    github.signInAs = "octocat";
    const page = await browser.newPage({ viewport: { width: 1360, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${s.base}/`);
    const signIn = page.locator("a.sign-in", { hasText: "Sign in with GitHub" });
    await signIn.waitFor();
    expect(await page.locator("tr[data-run]").count()).toBe(0);

    await signIn.click();
    await page.locator("#signed-in-as", { hasText: "octocat" }).waitFor({ timeout: 15_000 });
    expect(new URL(page.url()).pathname).toBe("/");
    await page.locator(`tr[data-run="${runs["acme/widgets"]!}"]`).waitFor();
    expect(await page.locator(`tr[data-run="${runs["acme/hidden"]!}"]`).count()).toBe(0);
    await page.locator(`tr[data-run="${runs["acme/public-lib"]!}"]`).waitFor();
    expect(await page.locator("tr[data-run]").count()).toBe(2);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("dashboard-signed-in.png", ARTIFACTS).pathname, fullPage: true });

    // Re-run from the run page: no token dialog, the history names octocat.
    await page.goto(`${s.base}/runs/${runs["acme/widgets"]!}`);
    await page.locator("#rerun-all").click();
    await expect.poll(async () => JSON.stringify((await s.control.db.query(`select data from run_events where run_id = $1`, [runs["acme/widgets"]!])).rows), { timeout: 15_000 }).toContain("re-run requested by octocat through the API");
    expect(await page.locator("#token-dialog[open]").count()).toBe(0);
    await s.control.engine.waitForRun(runs["acme/widgets"]!);

    // Read-only on acme/public-lib: its page shows no buttons.
    await page.goto(`${s.base}/runs/${runs["acme/public-lib"]!}`);
    await page.locator("g.node").first().waitFor();
    await page.locator(".run-head .badge").waitFor();
    // (The stream's first render may come before the page knows; the buttons must be gone once it does.)
    await expect.poll(() => page.locator("#rerun-all, #rerun-failed, #cancel-run, #rerun-stage").count(), { timeout: 10_000 }).toBe(0);

    // The hidden run's page says there is no such run.
    await page.goto(`${s.base}/runs/${runs["acme/hidden"]!}`);
    await page.locator("p.error", { hasText: "No run" }).waitFor();

    // Personal tokens: create one (shown once), it works as octocat, revoke it.
    await page.locator("#tokens-link").click();
    await page.locator("#token-description").fill("laptop CLI");
    await page.locator("#token-create").click();
    const token = (await page.locator("#token-value").textContent({ timeout: 15_000 })) ?? "";
    expect(token).toMatch(/^hdp_/);
    const row = page.locator("tr[data-token]", { hasText: "laptop CLI" });
    expect(await row.getAttribute("data-state")).toBe("active");
    const asToken = () => fetch(`${s.base}/api/runs/${runs["acme/widgets"]!}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await asToken()).toBe(200);
    await row.locator("button", { hasText: "Revoke" }).click();
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 10_000 }).toBe("revoked");
    expect(await asToken()).toBe(401);
    await page.reload();
    expect(await page.locator("#token-value").count()).toBe(0);
    await page.locator("tr[data-token]", { hasText: "laptop CLI" }).waitFor();

    await page.locator("#sign-out").click();
    await signIn.waitFor();
    expect(await page.locator("#signed-in-as").count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
