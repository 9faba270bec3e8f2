/** A check as a commit status (GitHub without an App, Gitea): state and a short description. */
import type { CheckReport } from "./forge.js";

export type StatusState = "pending" | "success" | "failure" | "error";

export function statusState(check: Pick<CheckReport, "status" | "conclusion" | "title">): { state: StatusState; description: string } {
  // A status has only its description to say how to release a waiting stage.
  const description = (check.conclusion === "action_required" ? "Waiting: a writer can comment /hodei approve on the pull request to run it" : check.title).slice(0, 140);
  if (check.status !== "completed") return { state: "pending", description };
  switch (check.conclusion) {
    case "success":
    case "skipped":
      return { state: "success", description };
    case "failure":
    case "timed_out":
      return { state: "failure", description };
    default:
      // cancelled, action_required: not a verdict on the code.
      return { state: check.conclusion === "action_required" ? "pending" : "error", description };
  }
}
