/**
 * `on.schedule` end to end, on a virtual clock: a push to main records the
 * schedule of main's pipeline file; at its slot the scheduler fires it once
 * and the delivery processor starts a run of main's head with event
 * `schedule`, reported to (the local) GitHub like a push; a restarted server
 * does not fire the slot again; after downtime over several slots one run
 * starts, for the newest; two schedulers on one Postgres fire a slot once.
 */
import { afterEach, expect, it } from "vitest";
import { getRun, listRuns } from "../../src/store/run-queries.js";
import { ScheduleRunner } from "../../src/triggers/schedule-runner.js";
import { describeEachStore, describePostgres } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import type { GithubState } from "../forge/fake-github.js";
import { createRepo, type TestRepo } from "../git/repos.js";
import { deliver, type Harness, pushPayload, settle, startHarness } from "./github-harness.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ZONE = "Europe/Berlin";

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

/** Hours and minutes of `at` on the wall clock of ZONE, e.g. "03:07". */
function wallClock(at: Date): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);
}

/**
 * A daily schedule whose next slot is a few minutes from now (real time: the
 * push records the schedule at the server's real time, and slots before it
 * never fire), written in ZONE's wall-clock time.
 */
function dailySoon(): { cron: string; slot: number } {
  const slot = Math.ceil((Date.now() + 3 * MINUTE) / MINUTE) * MINUTE;
  const [hours, minutes] = wallClock(new Date(slot)).split(":").map(Number);
  return { cron: `${minutes} ${hours} * * *`, slot };
}

const pipeline = (cron: string) => `name: nightly
on:
  push:
    branches: [main]
  schedule:
    - cron: "${cron}"
      branch: main
      timezone: ${ZONE}
stages:
  build:
    run: echo building
  soak:
    needs: [build]
    when: { event: [schedule] }
    run: echo soaking
`;

async function pushed(repo: TestRepo, cron: string): Promise<{ state: GithubState; head: string; first: string }> {
  const first = await repo.commit({ "README.md": "hi\n" });
  const head = await repo.commit({ ".hodei/pipeline.yml": pipeline(cron) });
  return { state: { permissions: new Map(), pulls: new Map(), branches: new Map([["main", head]]) }, head, first };
}

async function scheduleRuns(h: Harness) {
  return (await listRuns(h.control.db, { limit: 50 })).filter((r) => r.event === "schedule");
}

async function slots(h: Harness): Promise<Date[]> {
  const { rows } = await h.control.db.query<{ slot: Date }>(`select slot from schedule_slots order by slot`);
  return rows.map((r) => r.slot);
}

/** Moves the virtual clock, then waits for the scheduler's pass and what it stored. */
async function tick(h: Harness, clock: VirtualClock, ms: number): Promise<void> {
  await clock.advance(ms);
  await h.control.forge?.scheduler.idle();
  await settle(h.control);
}

describeEachStore("schedules", (store) => {
  it("a slot fires once at its time and runs main's head with event schedule, reported like a push; a restart does not fire it again; after downtime over several slots one run starts, for the newest, and a restart after it fires nothing more", async () => {
    const repo = await createRepo();
    const { cron, slot } = dailySoon();
    const { state, head, first } = await pushed(repo, cron);
    const clock = new VirtualClock(Date.now());
    h = await startHarness(store, state, { schedules: { pollMs: HOUR, clock } });
    expect((await deliver(h.app, "push", pushPayload(repo, first, head))).statusCode).toBe(202);
    await settle(h.control);
    // The push ran (soak skipped: not a schedule run) and recorded main's schedule.
    const [push] = await listRuns(h.control.db, { limit: 50 });
    expect(push).toMatchObject({ event: "push", sha: head, conclusion: "success" });
    const { rows } = await h.control.db.query(`select branch, cron, timezone, head_sha from pipeline_schedules`);
    expect(rows).toEqual([{ branch: "main", cron, timezone: ZONE, head_sha: head }]);

    // Up to a second before the slot: nothing.
    await tick(h, clock, slot - clock.now().getTime() - 1000);
    expect(await scheduleRuns(h)).toEqual([]);
    // At the slot: one run of main's head, every stage run.
    await tick(h, clock, 1000);
    const [run, ...more] = await scheduleRuns(h);
    expect(more).toEqual([]);
    expect(run).toMatchObject({ ref: "refs/heads/main", sha: head, event: "schedule", status: "completed", conclusion: "success" });
    expect((await getRun(h.control.db, run!.id))?.stages?.map((s) => [s.id, s.conclusion])).toEqual([["build", "success"], ["soak", "success"]]);
    const checks = h.github.requests.filter((r) => r.operationId === "checks/create" && String(r.body.external_id).startsWith(`${run!.id}/`));
    expect(checks.map((r) => [String(r.body.name), String(r.body.head_sha)]).sort()).toEqual([["nightly / build", head], ["nightly / soak", head]]);
    expect(await slots(h)).toEqual([new Date(slot)]);

    // Later passes and a restarted server leave the claimed slot alone.
    await tick(h, clock, 2 * HOUR);
    await h.restart();
    await tick(h, clock, 0);
    expect(await scheduleRuns(h)).toHaveLength(1);

    // Down for three days and a bit: the three missed slots start one run, the newest's.
    clock.jump(3 * DAY + HOUR);
    await h.restart();
    await tick(h, clock, 0);
    const runs = await scheduleRuns(h);
    expect(runs).toHaveLength(2);
    // The newest slot's claim stands; the first one's, three days older, was dropped with it (it can block nothing).
    const [newest, ...others] = await slots(h);
    expect(others).toEqual([]);
    expect(wallClock(newest!)).toBe(wallClock(new Date(slot)));
    expect(clock.now().getTime() - newest!.getTime()).toBeLessThan(DAY);
    expect(clock.now().getTime() - newest!.getTime()).toBeGreaterThanOrEqual(0);
    await h.restart();
    await tick(h, clock, 0);
    expect(await scheduleRuns(h)).toHaveLength(2);
    expect(h.github.violations).toEqual([]);
  });

  it("main's newest head defines main's schedules: a [skip ci] push moves them to its head, whose scheduled run does not skip; another branch's schedule in main's file is not main's; a push without them ends them, and so does deleting the branch", async () => {
    const repo = await createRepo();
    const { cron, slot } = dailySoon();
    const first = await repo.commit({ "README.md": "hi\n" });
    const withRelease = pipeline(cron).replace("stages:", `    - cron: "0 4 * * *"\n      branch: release\nstages:`);
    const c1 = await repo.commit({ ".hodei/pipeline.yml": withRelease });
    const state: GithubState = { permissions: new Map(), pulls: new Map(), branches: new Map([["main", c1]]) };
    const clock = new VirtualClock(Date.now());
    h = await startHarness(store, state, { schedules: { pollMs: HOUR, clock } });
    const recorded = async () => (await h!.control.db.query(`select branch, head_sha from pipeline_schedules`)).rows;
    expect((await deliver(h.app, "push", pushPayload(repo, first, c1))).statusCode).toBe(202);
    await settle(h.control);
    expect(await recorded()).toEqual([{ branch: "main", head_sha: c1 }]);

    const c2 = await repo.commit({ "README.md": "docs\n" }, "Docs [skip ci]");
    expect((await deliver(h.app, "push", pushPayload(repo, c1, c2))).statusCode).toBe(202);
    await settle(h.control);
    expect((await listRuns(h.control.db, { limit: 50 })).map((r) => r.sha)).toEqual([c1]);
    expect(await recorded()).toEqual([{ branch: "main", head_sha: c2 }]);
    await tick(h, clock, slot - clock.now().getTime());
    expect((await scheduleRuns(h)).map((r) => [r.sha, r.conclusion])).toEqual([[c2, "success"]]);

    const c3 = await repo.commit({ ".hodei/pipeline.yml": "name: nightly\nstages:\n  build:\n    run: echo building\n" });
    expect((await deliver(h.app, "push", pushPayload(repo, c2, c3))).statusCode).toBe(202);
    await settle(h.control);
    expect(await recorded()).toEqual([]);
    expect(await slots(h)).toEqual([]);
    await tick(h, clock, DAY);
    expect(await scheduleRuns(h)).toHaveLength(1);

    // Back in the file, then the branch is deleted: its schedules end with it.
    const c4 = await repo.commit({ ".hodei/pipeline.yml": pipeline(cron) });
    expect((await deliver(h.app, "push", pushPayload(repo, c3, c4))).statusCode).toBe(202);
    await settle(h.control);
    expect(await recorded()).toEqual([{ branch: "main", head_sha: c4 }]);
    const deleted = Object.assign(pushPayload(repo, c4, "0".repeat(40)), { deleted: true });
    expect((await deliver(h.app, "push", deleted)).statusCode).toBe(202);
    await settle(h.control);
    expect(await recorded()).toEqual([]);
  });
});

describePostgres("schedules, two servers", (store) => {
  it("two schedulers on one Postgres fire a slot once, and a third started later does not fire it again", async () => {
    const repo = await createRepo();
    const { cron, slot } = dailySoon();
    const { state, head, first } = await pushed(repo, cron);
    // The harness's own scheduler is off: the two below are the servers.
    h = await startHarness(store, state, { schedules: { pollMs: 0 } });
    expect((await deliver(h.app, "push", pushPayload(repo, first, head))).statusCode).toBe(202);
    await settle(h.control);

    const runner = (owner: string) => new ScheduleRunner({ db: h!.control.db, owner, clock: new VirtualClock(slot), pollMs: HOUR });
    const [a, b] = [runner("server-a"), runner("server-b")];
    // Side by side at the slot: both see it unclaimed, one insert wins.
    const passes = await Promise.all([a.pass(), b.pass(), a.pass(), b.pass()]);
    expect(passes.flatMap((p) => p.fired)).toHaveLength(1);
    expect((await runner("server-c").pass()).fired).toEqual([]);
    await settle(h.control);
    const runs = await scheduleRuns(h);
    expect(runs.map((r) => [r.sha, r.conclusion])).toEqual([[head, "success"]]);
    const { rows } = await h.control.db.query<{ claimed_by: string }>(`select claimed_by from schedule_slots`);
    expect(rows).toHaveLength(1);
    expect(["server-a", "server-b"]).toContain(rows[0]?.claimed_by);
  });
});
