/**
 * Real forge payloads: GitHub's published examples (@octokit/webhooks-examples)
 * and the Gitea captures in test/fixtures/forge/gitea (see PROVENANCE.md).
 * Tests copy them and change only what they must.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface ExampleGroup {
  name: string;
  examples: Record<string, unknown>[];
}

/** Tests edit nested fields of real payloads; a loose type keeps that short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Payload = Record<string, any>;

const github = require("@octokit/webhooks-examples/api.github.com/index.json") as ExampleGroup[];

/** A deep copy of the first GitHub example of `event` matching `pick`. */
export function githubExample(event: string, pick: (p: Record<string, unknown>) => boolean = () => true): Payload {
  const found = github.find((g) => g.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event} matching the filter`);
  return structuredClone(found);
}

export function giteaFixture(name: string): Payload {
  const url = new URL(`../fixtures/forge/gitea/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as Payload;
}

/** The headers Gitea sends with a delivery (go-gitea/gitea services/webhook/deliver.go). */
export function giteaHeaders(event: string, eventType: string, deliveryId: string, signature: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-gitea-delivery": deliveryId,
    "x-gitea-event": event,
    "x-gitea-event-type": eventType,
    "x-gitea-signature": signature,
    "x-gogs-delivery": deliveryId,
    "x-gogs-event": event,
    "x-gogs-event-type": eventType,
    "x-gogs-signature": signature,
    "x-hub-signature-256": `sha256=${signature}`,
    "x-github-delivery": deliveryId,
    "x-github-event": event,
    "x-github-event-type": eventType,
  };
}

export function githubHeaders(event: string, deliveryId: string, signature: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/044aadd",
    "x-github-delivery": deliveryId,
    "x-github-event": event,
    "x-github-hook-id": "292430182",
    "x-hub-signature-256": signature,
  };
}
