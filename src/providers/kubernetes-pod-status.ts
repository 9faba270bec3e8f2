/**
 * Reads a Pod's status for the one thing the provider needs to know: has
 * something gone wrong that will keep its agent from ever connecting or
 * finishing? Waiting reasons and phases as the kubelet reports them.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_SERVICES } from "./kubernetes-manifests.js";

/** Waiting reasons that mean the image will not start without a change. */
const IMAGE_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);

/** Null while the Pod is fine (pending, running); else the reason its attempt should end. */
export function podProblem(pod: V1Pod): string | null {
  const name = pod.metadata?.name ?? "?";
  const container = pod.status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  if (waiting?.reason && IMAGE_FAILURES.has(waiting.reason)) {
    const image = pod.spec?.containers[0]?.image ?? "?";
    return `pod ${name}: image ${JSON.stringify(image)} cannot be pulled (${waiting.reason})${waiting.message ? `: ${waiting.message}` : ""}`;
  }
  const service = serviceProblem(pod);
  if (service) return service;
  const phase = pod.status?.phase;
  if (phase === "Failed") {
    const reason = pod.status?.reason;
    const message = pod.status?.message ?? container?.state?.terminated?.message;
    const exit = container?.state?.terminated?.exitCode;
    return `pod ${name} failed${reason ? ` (${reason})` : ""}${exit !== undefined ? ` with exit code ${exit}` : ""}${message ? `: ${message}` : ""}`;
  }
  if (phase === "Succeeded") return `pod ${name} ended before the attempt did`;
  return null;
}

/**
 * A service (a sidecar, kubernetes-manifests.ts) that cannot be had or was
 * restarted before the stage's container started: the kubelet restarts a
 * sidecar whose startup probe failed for its whole timeout, or that exited,
 * so either means the service did not get ready.
 */
function serviceProblem(pod: V1Pod): string | null {
  const names = (pod.metadata?.annotations?.[ANNOTATION_SERVICES] ?? "").split(",").filter(Boolean);
  if (names.length === 0 || (pod.status?.containerStatuses ?? []).some((c) => c.state?.running || c.state?.terminated)) return null;
  for (const status of pod.status?.initContainerStatuses ?? []) {
    if (!names.includes(status.name)) continue;
    const quoted = JSON.stringify(status.name);
    const waiting = status.state?.waiting;
    if (waiting?.reason && IMAGE_FAILURES.has(waiting.reason)) {
      return `service ${quoted} (pod ${pod.metadata?.name ?? "?"}): image ${JSON.stringify(status.image)} cannot be pulled (${waiting.reason})${waiting.message ? `: ${waiting.message}` : ""}`;
    }
    if (status.restartCount > 0) {
      const last = status.lastState?.terminated;
      const how = last ? ` after it ended with exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ""}${last.message ? `: ${last.message}` : ""}` : "";
      return `service ${quoted} (pod ${pod.metadata?.name ?? "?"}) did not get ready: its startup probe failed or it exited, and it was restarted${how}`;
    }
  }
  return null;
}
