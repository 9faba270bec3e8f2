/** The slots of `on.schedule` as croner computes them (src/pipeline-parser/cron.ts), time zones and daylight saving time included. */
import { describe, expect, it } from "vitest";
import { cronProblem, newestSlotAtOrBefore, nextSlotAfter, timezoneProblem } from "../../src/pipeline-parser/cron.js";

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

describe("schedule slots", () => {
  it("the newest slot at or before a time includes a slot at that very millisecond, the next one is strictly after", () => {
    const daily = { cron: "0 3 * * *", timezone: "UTC" };
    expect(iso(newestSlotAtOrBefore(daily, new Date("2026-05-02T03:00:00.000Z")))).toBe("2026-05-02T03:00:00.000Z");
    expect(iso(newestSlotAtOrBefore(daily, new Date("2026-05-02T02:59:59.999Z")))).toBe("2026-05-01T03:00:00.000Z");
    expect(iso(nextSlotAfter(daily, new Date("2026-05-02T03:00:00.000Z")))).toBe("2026-05-03T03:00:00.000Z");
  });

  it("reads the fields in the schedule's time zone, daylight saving time included", () => {
    const berlin = { cron: "0 3 * * *", timezone: "Europe/Berlin" };
    expect(iso(nextSlotAfter(berlin, new Date("2026-01-15T00:00:00Z")))).toBe("2026-01-15T02:00:00.000Z"); // CET
    expect(iso(nextSlotAfter(berlin, new Date("2026-07-15T00:00:00Z")))).toBe("2026-07-15T01:00:00.000Z"); // CEST
    // 02:30 does not exist on 29 March 2026 in Berlin: that day's slot is the first time after the gap.
    const gap = { cron: "30 2 * * *", timezone: "Europe/Berlin" };
    expect(iso(nextSlotAfter(gap, new Date("2026-03-28T12:00:00Z")))).toBe("2026-03-29T01:00:00.000Z");
    // 02:30 comes twice on 25 October 2026: a fixed time runs once.
    expect(iso(nextSlotAfter(gap, new Date("2026-10-24T12:00:00Z")))).toBe("2026-10-25T00:30:00.000Z");
    expect(iso(nextSlotAfter(gap, new Date("2026-10-25T00:30:00Z")))).toBe("2026-10-26T01:30:00.000Z");
  });

  it("either day field matching is enough when both are given, as in Vixie cron", () => {
    // The 13th, or a Friday.
    const s = { cron: "0 0 13 * FRI", timezone: "UTC" };
    expect(iso(nextSlotAfter(s, new Date("2026-03-01T00:00:00Z")))).toBe("2026-03-06T00:00:00.000Z");
    expect(iso(nextSlotAfter(s, new Date("2026-03-10T00:00:00Z")))).toBe("2026-03-13T00:00:00.000Z");
  });

  it("accepts what croner reads as five fields, and says why it refuses the rest", () => {
    for (const ok of ["0 3 * * *", "*/15 * * * *", "0 9-17 * * MON-FRI", "0 0 L * *", "0 0 1,15 JAN,JUL *", "  0 3 * * *  "]) expect(cronProblem(ok), ok).toBeNull();
    expect(cronProblem("0 0 3 * * *")).toMatch(/must have five fields .* not 6$/);
    expect(cronProblem("0 3 * * 8")).toMatch(/^invalid cron "0 3 \* \* 8": /);
    expect(cronProblem("0 0 30 2 *")).toBe('cron "0 0 30 2 *" matches no date');
    expect(timezoneProblem("Europe/Berlin")).toBeNull();
    expect(timezoneProblem("UTC")).toBeNull();
    expect(timezoneProblem("Europe/Berlim")).toMatch(/^unknown time zone "Europe\/Berlim" \(did you mean "Europe\/Berlin"\?\)/);
    expect(timezoneProblem("GMT+1")).toMatch(/^unknown time zone "GMT\+1"/);
  });
});
