/** A stored delivery → ForgeEvent, by forge (or the push reconciler's and the scheduler's own events). Throws PayloadError for a supported event missing its fields. */
import type { StoredDelivery } from "./delivery-store.js";
import type { Normalised } from "./forge-event.js";
import { normaliseGitea } from "./gitea-events.js";
import { normaliseGithub } from "./github-events.js";
import { normaliseReconciled, RECONCILED_EVENT } from "./reconciled-events.js";
import { normaliseSchedule, SCHEDULE_EVENT } from "./schedule-events.js";

export function normaliseDelivery(d: Pick<StoredDelivery, "forge" | "event" | "payload">): Normalised {
  if (d.event === RECONCILED_EVENT) return normaliseReconciled(d.forge, d.payload);
  if (d.event === SCHEDULE_EVENT) return normaliseSchedule(d.forge, d.payload);
  return d.forge === "github" ? normaliseGithub(d.event, d.payload) : normaliseGitea(d.event, d.payload);
}
