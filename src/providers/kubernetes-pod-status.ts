/**
 * Reads a Pod's status for the one thing the provider needs to know: has
 * something gone wrong that will keep its agent from ever connecting or
 * finishing? Waiting reasons and phases as the kubelet reports them.
 */
import type { V1Pod } from "@kubernetes/client-node";

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
