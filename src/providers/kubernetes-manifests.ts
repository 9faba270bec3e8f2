/**
 * The Pod and Secret for one attempt. An init container from the agent image
 * (agent-image.ts) copies the agent, its Node and libraries into an
 * `emptyDir`, which the stage's container mounts read-only at /opt/hodei and
 * starts the agent from; nothing comes from a node's file system, so the Pod
 * runs on any node of any cluster that can pull the agent image. The agent
 * fetches the run's files over its connection. The Pod never restarts, and is
 * ended by the cluster after the stage's timeout plus start-up slack. The Secret holds the agent's credentials and
 * is owned by the Pod, so the cluster deletes it with the Pod.
 */
import { createHash, randomBytes } from "node:crypto";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { ATTEMPT_LABEL, attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef } from "../engine/ports.js";
import { AGENT_LAUNCHER, copyRuntimeArgs } from "./agent-image.js";
import { RUNTIME_DIR } from "./agent-runtime.js";
import { attemptLabels, LABEL_MANAGED, LABEL_STORE, type ProvisionerIdentity } from "./attempt-labels.js";
import type { StageResources } from "./provider.js";

const WORK_DIR = "/hodei-work";
/** Where the init container sees the agent's emptyDir. */
const INSTALL_DIR = "/hodei-agent";

export interface PodInput {
  ref: AttemptRef;
  /** podName(ref) */
  name: string;
  namespace: string;
  image: string;
  /** The agent image its init container copies the agent from. */
  agentImage: string;
  server: string;
  secretName: string;
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
  const { ref } = input;
  const volumes: NonNullable<NonNullable<V1Pod["spec"]>["volumes"]> = [
    { name: "work", emptyDir: {} },
    { name: "hodei-agent", emptyDir: {} },
  ];
  const mounts = [
    { name: "work", mountPath: WORK_DIR },
    { name: "hodei-agent", mountPath: RUNTIME_DIR, readOnly: true },
  ];
  const quantities: Record<string, string> = {};
  if (input.resources.cpus) quantities.cpu = `${Math.round(input.resources.cpus * 1000)}m`;
  if (input.resources.memoryBytes) quantities.memory = String(input.resources.memoryBytes);
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
      initContainers: [
        {
          name: "hodei-agent",
          image: input.agentImage,
          args: copyRuntimeArgs(INSTALL_DIR),
          volumeMounts: [{ name: "hodei-agent", mountPath: INSTALL_DIR }],
        },
      ],
      containers: [
        {
          name: "agent",
          image: input.image,
          command: [AGENT_LAUNCHER],
          args: ["--server", input.server, "--label", "provider=kubernetes", "--label", `${ATTEMPT_LABEL}=${attemptLabel(ref)}`],
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
