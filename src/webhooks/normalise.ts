/** A stored delivery → ForgeEvent, by forge. Throws PayloadError for a supported event missing its fields. */
import type { StoredDelivery } from "./delivery-store.js";
import type { Normalised } from "./forge-event.js";
import { normaliseGitea } from "./gitea-events.js";
import { normaliseGithub } from "./github-events.js";

export function normaliseDelivery(d: Pick<StoredDelivery, "forge" | "event" | "payload">): Normalised {
  return d.forge === "github" ? normaliseGithub(d.event, d.payload) : normaliseGitea(d.event, d.payload);
}
