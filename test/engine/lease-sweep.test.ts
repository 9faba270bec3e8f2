/**
 * Leases count only time in which the server could hear its agents: a pause
 * of the server process (SIGSTOP: on the virtual clock, a jump with no timer
 * firing) is not held against them, a heartbeat that arrived before the
 * sweep's tick is read before expiry, and the leases of attempts resumed at
 * start run only from when agents can reach the server.
 */
import { expect, it } from "vitest";
import { LeaseBook, type Lease } from "../../src/engine/lease-book.js";
import { LeaseSweeper } from "../../src/engine/lease-sweep.js";
import { VirtualClock, settleBriefly } from "../helpers/virtual-clock.js";

const ref = { runId: "r", stageId: "s", attempt: 1 };
const LEASE_MS = 15_000;

function sweeping() {
  const clock = new VirtualClock();
  const book = new LeaseBook(LEASE_MS, () => clock.now().getTime());
  const expired: { lease: Lease; at: number }[] = [];
  const sweeper = new LeaseSweeper(book, clock, 1000, (leases) => {
    for (const lease of leases) expired.push({ lease, at: clock.now().getTime() });
  });
  sweeper.start();
  return { clock, book, expired, sweeper, t0: clock.now().getTime() };
}

it("expires a lease nobody renews one lease period after it was granted", async () => {
  const { clock, book, expired, sweeper, t0 } = sweeping();
  book.grant(ref, "a");
  await clock.advance(LEASE_MS - 1000);
  expect(expired).toEqual([]);
  await clock.advance(1000);
  expect(expired.map((e) => e.at - t0)).toEqual([LEASE_MS]);
  sweeper.stop();
});

it("does not count a 10 s pause of the server against a lease: it is extended by the gap", async () => {
  const { clock, book, expired, sweeper, t0 } = sweeping();
  book.grant(ref, "a");
  await clock.advance(5_000);
  // The process is stopped for 10 s: no timer fires, nothing is read.
  clock.jump(10_000);
  // SIGCONT: the overdue tick fires first; 15 s have passed on the wall clock.
  await clock.advance(0);
  expect(expired).toEqual([]);
  // The agent's heartbeats queued during the pause are read now and renew the lease.
  book.renewRunning("a", [ref]);
  await clock.advance(LEASE_MS - 1000);
  expect(expired).toEqual([]);
  // Silence from here on: it lapses a whole lease period after the renewal.
  await clock.advance(1000);
  expect(expired.map((e) => e.at - t0)).toEqual([15_000 + LEASE_MS]);
  sweeper.stop();
});

it("still expires, after the pause, a lease whose agent stays silent, once the lease time it had left has run", async () => {
  const { clock, book, expired, sweeper, t0 } = sweeping();
  book.grant(ref, "a");
  await clock.advance(5_000);
  clock.jump(10_000);
  await clock.advance(0);
  expect(expired).toEqual([]);
  // The gap is counted from the tick that was due (6 s), so the lease is
  // extended by 9 s of the 10 s pause: it lapses at 15 + 9 s.
  await clock.advance(8_000);
  expect(expired).toEqual([]);
  await clock.advance(1_000);
  expect(expired.map((e) => e.at - t0)).toEqual([LEASE_MS + 9_000]);
  sweeper.stop();
});

it("reads what arrived before the tick (the poll phase) before expiring", async () => {
  const { clock, book, expired, sweeper } = sweeping();
  book.grant(ref, "a");
  await clock.advance(LEASE_MS - 1000);
  // The tick at which the lease is due; a heartbeat already in the socket is
  // read after the timer phase and before setImmediate.
  await clock.advance(1000, async () => {
    book.renewRunning("a", [ref]);
    await settleBriefly();
  });
  expect(expired).toEqual([]);
  sweeper.stop();
});

it("holds the leases of resumed attempts until agents can reach the server, then gives them a whole period", async () => {
  const { clock, book, expired, sweeper } = sweeping();
  book.grantHeld(ref, "a");
  // A slow start (store open, migrations): longer than a lease.
  await clock.advance(3 * LEASE_MS);
  expect(expired).toEqual([]);
  const ready = clock.now().getTime();
  book.startHeld();
  await clock.advance(LEASE_MS - 1000);
  expect(expired).toEqual([]);
  await clock.advance(1000);
  expect(expired.map((e) => e.at - ready)).toEqual([LEASE_MS]);
  sweeper.stop();
});
