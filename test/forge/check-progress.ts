/**
 * What the forge saw of a check, against the states its stage went through.
 * The outbox posts a check's newest stored state, so a state that lasted less
 * than one post (a short stage's `in_progress`, a `queued` leased at once)
 * may never be posted, and a post whose answer timed out is posted again; but
 * states never go back, and the last one posted is the final one.
 */
import { expect } from "vitest";

export function expectStatesWithin(posted: readonly string[] | undefined, passedThrough: readonly string[], what = "check"): void {
  const states = posted ?? [];
  expect(states.at(-1), `${what}: the last state posted (${states.join(", ")})`).toBe(passedThrough.at(-1));
  let at = 0;
  for (const state of states) {
    while (at < passedThrough.length && passedThrough[at] !== state) at++;
    expect(at < passedThrough.length, `${what}: ${states.join(", ")} is not ${passedThrough.join(", ")} with states left out`).toBe(true);
  }
}
