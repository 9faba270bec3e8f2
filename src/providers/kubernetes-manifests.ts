/**
 * The Pod and Secret for one attempt. An init container from the agent image
 * (agent-image.ts) copies the agent, its Node and libraries into an
 * `emptyDir`, which the stage's container mounts read-only at /opt/hodei and
 * starts the agent from; nothing comes from a node's file system, so the Pod
 * runs on any node of any cluster that can pull the agent image. The agent
 * fetches the run's files over its connection. The Pod never restarts, and is
 * ended by the cluster after the stage's timeout plus start-up slack. The Secret holds the agent's credentials and
 * is owned by the Pod, so the cluster deletes it with the Pod.
 *
 * A stage's services are sidecars: init containers with `restartPolicy:
 * Always` (Kubernetes 1.29 and later), each named as its service, whose
 * `startupProbe` (the service's `ready`: exec or tcpSocket, every second,
 * for its timeout) holds back the stage's container until it passes. They
 * share the Pod's network, so a service is on localhost; `hostAliases` maps
 * each name to 127.0.0.1, so the stage's commands reach it by name as on
 * docker. The annotation `hodei.services` lists them for pod-status.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import type { V1Container, V1Pod, V1Probe, V1Secret } from "@kubernetes/client-node";
import { ATTEMPT_LABEL, attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef } from "../engine/ports.js";
import type { PlannedService } from "../pipeline-parser/types.js";
import { AGENT_LAUNCHER, copyRuntimeArgs } from "./agent-image.js";
import { RUNTIME_DIR } from "./agent-runtime.js";
import { attemptLabels, LABEL_MANAGED, LABEL_STORE, type ProvisionerIdentity } from "./attempt-labels.js";
import type { StageResources } from "./provider.js";

const WORK_DIR = "/hodei-work";
/** Where the init container sees the agent's emptyDir. */
const INSTALL_DIR = "/hodei-agent";
/** The Pod's service (sidecar) container names, comma-separated. */
export const ANNOTATION_SERVICES = "hodei.services";
/** Container names of the Pod's own, which a service cannot have (the parser refuses them on kubernetes stages). */
export const RESERVED_CONTAINER_NAMES = ["agent", "hodei-agent"] as const;

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
  services?: readonly PlannedService[];
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
  const services = input.services ?? [];
  const metadata = metadataOf(ref, input.identity);
  if (services.length > 0) metadata.annotations[ANNOTATION_SERVICES] = services.map((s) => s.name).join(",");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: input.name, namespace: input.namespace, ...metadata },
    spec: {
      restartPolicy: "Never",
      ...(services.length > 0 ? { hostAliases: [{ ip: "127.0.0.1", hostnames: services.map((s) => s.name) }] } : {}),
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
        ...services.map(sidecar),
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

/** A service as a sidecar: started in order, the stage's container only once its startup probe passed. */
function sidecar(s: PlannedService): V1Container {
  const probe: V1Probe | null = s.ready === null ? null : "command" in s.ready ? { exec: { command: s.ready.command } } : { tcpSocket: { port: s.ready.port } };
  return {
    name: s.name,
    image: s.image,
    restartPolicy: "Always",
    // A service's `command` is what follows the image's entrypoint: the container's args.
    ...(s.command ? { args: s.command } : {}),
    ...(Object.keys(s.env).length > 0 ? { env: Object.entries(s.env).map(([name, value]) => ({ name, value })) } : {}),
    ...(s.ports.length > 0 ? { ports: s.ports.map((containerPort) => ({ containerPort, protocol: "TCP" })) } : {}),
    ...(probe ? { startupProbe: { ...probe, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: s.readyTimeoutSeconds } } : {}),
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
