/**
 * The Pod and Secret for one attempt. The Pod runs the agent (the bundle and
 * this host's Node from hostPath volumes, like the docker provider's bind
 * mounts: right for a single-node cluster on the server's host; see the
 * README), never restarts, and is ended by the cluster after the stage's
 * timeout plus start-up slack. The Secret holds the agent's credentials and
 * is owned by the Pod, so the cluster deletes it with the Pod.
 */
import { createHash, randomBytes } from "node:crypto";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { ATTEMPT_LABEL, attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef } from "../engine/ports.js";
import type { AgentRuntime } from "./agent-runtime.js";
import { attemptLabels, LABEL_MANAGED, LABEL_STORE, type ProvisionerIdentity } from "./attempt-labels.js";
import type { StageResources } from "./provider.js";

const WORK_DIR = "/hodei-work";

export interface PodInput {
  ref: AttemptRef;
  /** podName(ref) */
  name: string;
  namespace: string;
  image: string;
  runtime: AgentRuntime;
  server: string;
  secretName: string;
  sourceDir: string | null;
  resources: StageResources;
  /** activeDeadlineSeconds: the stage's timeout plus the time the agent may take to connect. */
  deadlineSeconds: number;
  identity: ProvisionerIdentity;
}

/** DNS-1123 names: `hodei-<hash of the attempt>-<random>`; the attempt itself is in the annotations. */
export function podName(ref: AttemptRef): string {
  const hash = createHash("sha256").update(attemptLabel(ref)).digest("hex").slice(0, 12);
  return `hodei-${hash}-${randomBytes(3).toString("hex")}`;
}

/**
 * Label values allow only 63 characters of [A-Za-z0-9-_.], which stage ids
 * like `test[node=18]` break: the attempt goes into annotations (same keys),
 * and labels hold what selectors need.
 */
function metadataOf(ref: AttemptRef, who: ProvisionerIdentity) {
  return {
    labels: { [LABEL_MANAGED]: "true", [LABEL_STORE]: who.store, "app.kubernetes.io/managed-by": "hodei" },
    annotations: attemptLabels(ref, who),
  };
}

export function podManifest(input: PodInput): V1Pod {
  const { ref, runtime } = input;
  const volumes: NonNullable<NonNullable<V1Pod["spec"]>["volumes"]> = [{ name: "work", emptyDir: {} }];
  const mounts: { name: string; mountPath: string; readOnly?: boolean }[] = [{ name: "work", mountPath: WORK_DIR }];
  runtime.mounts.forEach((m, i) => {
    volumes.push({ name: `runtime-${i}`, hostPath: { path: m.host, type: "File" } });
    mounts.push({ name: `runtime-${i}`, mountPath: m.container, readOnly: true });
  });
  if (input.sourceDir) {
    volumes.push({ name: "source", hostPath: { path: input.sourceDir, type: "Directory" } });
    mounts.push({ name: "source", mountPath: input.sourceDir, readOnly: true });
  }
  const quantities: Record<string, string> = {};
  if (input.resources.cpus) quantities.cpu = `${Math.round(input.resources.cpus * 1000)}m`;
  if (input.resources.memoryBytes) quantities.memory = String(input.resources.memoryBytes);
  const [command, ...args] = runtime.entrypoint;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: input.name, namespace: input.namespace, ...metadataOf(ref, input.identity) },
    spec: {
      restartPolicy: "Never",
      activeDeadlineSeconds: input.deadlineSeconds,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      volumes,
      containers: [
        {
          name: "agent",
          image: input.image,
          command: command ? [command] : [],
          args: [...args, "--server", input.server, "--label", "provider=kubernetes", "--label", `${ATTEMPT_LABEL}=${attemptLabel(ref)}`],
          envFrom: [{ secretRef: { name: input.secretName } }],
          env: [{ name: "TMPDIR", value: WORK_DIR }],
          workingDir: WORK_DIR,
          volumeMounts: mounts,
          ...(Object.keys(quantities).length > 0 ? { resources: { requests: quantities, limits: quantities } } : {}),
        },
      ],
    },
  };
}

/** The agent's credentials, owned by its Pod (deleted with it). */
export function secretManifest(pod: V1Pod, secretName: string, credentials: Record<string, string>, ref: AttemptRef, who: ProvisionerIdentity): V1Secret {
  const { name, uid, namespace } = pod.metadata ?? {};
  if (!name || !uid) throw new Error("the pod has no name or uid yet");
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: secretName,
      namespace,
      ...metadataOf(ref, who),
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name, uid, blockOwnerDeletion: true }],
    },
    stringData: credentials,
  };
}
