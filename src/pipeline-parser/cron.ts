/**
 * Cron expressions of `on.schedule` (five fields, read in an IANA time zone),
 * parsed by croner: what the parser checks and the slots the server's
 * scheduler fires (src/triggers/schedule-runner.ts).
 */
import { Cron } from "croner";
import { suggest } from "./suggest.js";

export const DEFAULT_TIMEZONE = "UTC";

const FIELDS = "minute hour day-of-month month day-of-week";
/** Written like a zone name (Area/Location, UTC, EST), not an offset such as +01:00. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** Why `expr` is not a cron expression Hodei accepts, or null. */
export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5) {
    const nickname = expr.trim().startsWith("@") ? ` (nicknames such as @daily are not supported: write "0 0 * * *")` : "";
    return `cron ${JSON.stringify(expr)} must have five fields (${FIELDS}), not ${fields.length}${nickname}`;
  }
  // croner fills "?" with the time the expression is parsed: a slot would depend on when a server started.
  if (expr.includes("?")) return `cron ${JSON.stringify(expr)}: "?" is not supported; use "*"`;
  let cron: Cron;
  try {
    cron = compile(expr, DEFAULT_TIMEZONE);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^CronPattern: /, "");
    return `invalid cron ${JSON.stringify(expr)}: ${reason}`;
  }
  if (cron.nextRun(new Date(0)) === null) return `cron ${JSON.stringify(expr)} matches no date`;
  return null;
}

/** Why `zone` is not an IANA time zone this Node knows, or null. */
export function timezoneProblem(zone: string): string | null {
  if (ZONE_NAME.test(zone)) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      return null;
    } catch {
      // reported below
    }
  }
  const hint = suggest(zone, Intl.supportedValuesOf("timeZone"));
  return `unknown time zone ${JSON.stringify(zone)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""}: use an IANA name such as "Europe/Berlin" or "UTC"`;
}

/** A checked schedule's cron, ready to compute slots. */
export interface CronSchedule {
  cron: string;
  timezone: string;
}

/** The newest slot at or before `at`, or null when there is none. */
export function newestSlotAtOrBefore(s: CronSchedule, at: Date): Date | null {
  // previousRuns excludes a slot equal to its reference: look from just after `at`.
  return compile(s.cron, s.timezone).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
}

/** The first slot after `at`, or null when there is none. */
export function nextSlotAfter(s: CronSchedule, at: Date): Date | null {
  return compile(s.cron, s.timezone).nextRun(at);
}

function compile(expr: string, timezone: string): Cron {
  // paused: a pattern to compute with, never a timer of croner's own (time comes from the Clock port).
  return new Cron(expr.trim(), { mode: "5-part", timezone, paused: true });
}
