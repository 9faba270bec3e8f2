/**
 * The dashboard in real headless Chromium while a pipeline runs on real
 * agents: the DAG and its stage states change live, log lines arrive live
 * with ANSI colours, a failed stage is re-run from its page (asking for the
 * admin token once) and its new attempt shows. Leaves a screenshot of the run
 * page in test-artifacts/run-page.png.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "../http/server-fixture.js";
import { CHROMIUM, launchBrowser } from "./browser.js";

/** The few browser globals used in page.evaluate (the project's TS lib has no DOM). */
interface BrowserGlobals {
  getComputedStyle(e: unknown): { color: string };
  sessionStorage: { getItem(key: string): string | null };
}

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);

/**
 * Skipped only outside CI when Debian's chromium is not installed, so the
 * README's `npm test` passes on a fresh machine; in CI (`.ci/run` installs it)
 * a missing browser fails every test instead.
 */
const chromiumMissing = !existsSync(CHROMIUM) && !process.env.CI;

describe.skipIf(chromiumMissing)(`dashboard in Chromium${chromiumMissing ? ` (skipped: ${CHROMIUM} is not installed; apt-get install -y chromium)` : ""}`, () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  // A missing browser fails each test (rather than a hook, which reports the tests as skipped).
  let launchError: Error | null = null;
  const ready = () => {
    if (launchError) throw launchError;
  };
  beforeAll(async () => {
    try {
      browser = await launchBrowser();
    } catch (error) {
      launchError = error instanceof Error ? error : new Error(String(error));
      return;
    }
    s = await startTestServer(await testStore("pglite").create(), {}, 3);
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on("pageerror", (e) => errors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  const node = (id: string) => page.locator(`g.node[data-stage="${id}"]`);

  it("shows the DAG with live states and live logs, and re-runs a failed stage with the admin token", async () => {
    ready();
    const tag = `${process.pid}-${Date.now()}`;
    const gate = `/tmp/hodei-dash-gate-${tag}`;
    const flaky = `/tmp/hodei-dash-flaky-${tag}`;
    const id = await s.startRun([
      stage("build", { commands: [`printf '\\033[32mcompiling\\033[0m widgets\\n'; while [ ! -f ${gate} ]; do sleep 0.05; done; echo built`] }),
      stage("lint", { commands: ["echo lint ok"] }),
      stage("test", { needs: ["build"], commands: [`echo running tests; test -f ${flaky} || { touch ${flaky}; printf '\\033[1;31mFAIL\\033[0m widgets.test\\n'; exit 1; }; echo all green`] }),
      stage("deploy", { needs: ["test", "lint"], commands: ["echo deployed"] }),
    ]);

    await page.goto(`${s.base}/runs/${id}/stages/build`);
    // The graph: four nodes, build running while its log streams.
    await expect.poll(() => node("build").getAttribute("data-state"), { timeout: 15_000 }).toBe("running");
    expect(await page.locator("g.node").count()).toBe(4);
    const green = page.locator('.log[data-stage="build"] .line:not(.cmd)', { hasText: "compiling" });
    await green.waitFor({ timeout: 15_000 });
    expect(await node("build").getAttribute("data-state")).toBe("running"); // the line came live
    const colour = await green.locator('span[style*="color"]', { hasText: "compiling" }).evaluate((e) => (globalThis as unknown as BrowserGlobals).getComputedStyle(e).color);
    expect(colour).toBe("rgb(87, 171, 90)");
    expect(await node("test").getAttribute("data-state")).toBe("queued");

    await writeFile(gate, "");
    await expect.poll(() => node("build").getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    await page.locator('.log[data-stage="build"] .line:not(.cmd)', { hasText: "built" }).waitFor();
    await expect.poll(() => node("test").getAttribute("data-state"), { timeout: 15_000 }).toBe("failure");
    await expect.poll(() => node("deploy").getAttribute("data-state"), { timeout: 15_000 }).toBe("skipped");

    // A deep link per stage: clicking a node selects it and changes the address.
    await node("test").click();
    await page.waitForURL(`${s.base}/runs/${id}/stages/test`);
    await page.locator('.log[data-stage="test"] .line:not(.cmd)', { hasText: "FAIL" }).waitFor();
    await page.locator("#rerun-failed").waitFor();
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("run-page-failed.png", ARTIFACTS).pathname, fullPage: true });

    // Re-run the failed stage: the token is asked once, then the new attempt shows.
    await page.locator("#rerun-stage").click();
    await page.locator("#token-input").fill(ADMIN_TOKEN);
    await page.locator("#token-ok").click();
    await expect.poll(() => node("test").getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    await expect.poll(() => node("deploy").getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    expect(await node("test").locator("text.meta").textContent()).toContain("#2");
    await page.locator('.log[data-stage="test"][data-attempt="2"] .line:not(.cmd)', { hasText: "all green" }).waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).sessionStorage.getItem("hodei.adminToken"))).toBe(ADMIN_TOKEN);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("run-page.png", ARTIFACTS).pathname, fullPage: true });
    expect(existsSync(new URL("run-page.png", ARTIFACTS))).toBe(true);
    expect(errors).toEqual([]);
  });

  it("cancels a running run from its page with the token kept for the tab", async () => {
    ready();
    const id = await s.startRun([stage("forever", { commands: ["echo started; sleep 60"] }), stage("later", { needs: ["forever"] })]);
    await page.goto(`${s.base}/runs/${id}`);
    await expect.poll(() => node("forever").getAttribute("data-state"), { timeout: 15_000 }).toBe("running");
    await page.locator('.log[data-stage="forever"] .line:not(.cmd)', { hasText: "started" }).waitFor({ timeout: 15_000 });
    await page.locator("#cancel-run").click();
    // No dialog this time: the token from the re-run above is kept in sessionStorage.
    await expect.poll(() => node("forever").getAttribute("data-state"), { timeout: 15_000 }).toBe("cancelled");
    expect(await page.locator(".run-head .badge").textContent()).toContain("cancelled");
    await expect.poll(() => page.locator("#stage-reason").textContent()).toContain("cancelled");
    expect(await page.locator("#token-dialog[open]").count()).toBe(0);
    await page.locator("#rerun-all").waitFor();
    expect(errors).toEqual([]);
  });

  it("approves a run's stages that wait for approval, as a fork's do, and the history names the admin token", async () => {
    ready();
    const id = await s.startRun([stage("build"), stage("deploy", { needs: ["build"], commands: ["echo deployed"] })], "acme/widgets", { approvalRequired: ["deploy"] });
    await page.goto(`${s.base}/runs/${id}`);
    await expect.poll(() => node("build").getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    await node("deploy").click();
    await expect.poll(() => page.locator("#stage-waiting").textContent()).toContain("waiting for approval");
    await page.locator("#approve-run").click();
    await expect.poll(() => node("deploy").getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    expect(await page.locator("#approve-run").count()).toBe(0);
    const { events } = (await (await fetch(`${s.base}/api/runs/${id}/events`)).json()) as { events: { type: string; data: unknown }[] };
    expect(events.find((e) => e.type === "run.approved")?.data).toEqual({ by: "admin token", sha: "c0ffee".padEnd(40, "0") });
    expect(errors).toEqual([]);
  });

  it("says what a queued stage with runs-on waits for", async () => {
    ready();
    const id = await s.startRun([stage("gpu", { runsOn: ["gpu"] })]);
    await page.goto(`${s.base}/runs/${id}/stages/gpu`);
    await expect.poll(() => page.locator("#stage-waiting").textContent(), { timeout: 15_000 }).toBe("waiting for an agent with gpu");
    await s.control.engine.cancelRun(id, "test over");
    expect(errors).toEqual([]);
  });

  it("lists runs with repository, branch, commit, event and status, filtered by repository", async () => {
    ready();
    const other = await s.startRun([stage("one")], "acme/other");
    await s.control.engine.waitForRun(other);
    await page.goto(`${s.base}/`);
    const row = page.locator(`tr[data-run="${other}"]`);
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain("success");
    const text = (await row.textContent()) ?? "";
    for (const part of ["acme/other", "main", "c0ffee0", "push"]) expect(text).toContain(part);
    await page.goto(`${s.base}/?repo=acme/widgets`);
    await page.locator("tr[data-run]").first().waitFor();
    expect(await page.locator(`tr[data-run="${other}"]`).count()).toBe(0);
    await page.screenshot({ path: new URL("runs-list.png", ARTIFACTS).pathname });
    await row.count();
    // A live row: a new run appears without a reload.
    const live = await s.startRun([stage("two")]);
    await page.locator(`tr[data-run="${live}"]`).waitFor({ timeout: 10_000 });
    await s.control.engine.waitForRun(live);
    expect(errors).toEqual([]);
  });
});
