/**
 * The container for one attempt, as the Docker Engine API's create request:
 * the stage's image, the agent's volume (from the agent image, agent-image.ts)
 * mounted read-only with its launcher as entrypoint, a fresh anonymous volume
 * as the agent's scratch space (removed with the container), limits, labels.
 * Nothing comes from the server's host: the agent fetches the run's files
 * over its connection, so the engine may be on another machine.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { ATTEMPT_LABEL, attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef } from "../engine/ports.js";
import { AGENT_LAUNCHER } from "./agent-image.js";
import { attemptLabels, type ProvisionerIdentity } from "./attempt-labels.js";
import { dockerStatusOf } from "./docker-status.js";
import type { StageResources } from "./provider.js";

/** The agent's workspaces go here (TMPDIR): an anonymous volume, not the image's file system. */
export const WORK_DIR = "/hodei-work";

export interface ContainerInput {
  ref: AttemptRef;
  image: string;
  /** The container (created, never started) whose /opt/hodei volume holds the agent. */
  agentVolumesFrom: string;
  /** host:port the agent dials. */
  server: string;
  /** Environment variables with the agent's credentials (HODEI_AGENT_TOKEN, ...). */
  credentials: Record<string, string>;
  network: string;
  /** `NAME:IP` of the attempt's services (docker-services.ts), written to the container's /etc/hosts. */
  extraHosts?: readonly string[];
  resources: StageResources;
  identity: ProvisionerIdentity;
}

export function containerSpec(input: ContainerInput): Docker.ContainerCreateOptions {
  const { ref } = input;
  return {
    name: containerName(ref),
    Image: input.image,
    Entrypoint: [AGENT_LAUNCHER],
    Cmd: ["--server", input.server, "--label", "provider=docker", "--label", `${ATTEMPT_LABEL}=${attemptLabel(ref)}`],
    // Inspecting a container needs access to the Docker engine, which is root on the host anyway.
    Env: [...Object.entries(input.credentials).map(([k, v]) => `${k}=${v}`), `TMPDIR=${WORK_DIR}`],
    WorkingDir: WORK_DIR,
    Labels: attemptLabels(ref, input.identity),
    HostConfig: {
      NetworkMode: input.network,
      ...(input.extraHosts && input.extraHosts.length > 0 ? { ExtraHosts: [...input.extraHosts] } : {}),
      VolumesFrom: [`${input.agentVolumesFrom}:ro`],
      // No Source: an anonymous volume, removed with the container (remove with v).
      Mounts: [{ Type: "volume", Source: "", Target: WORK_DIR }],
      ...(input.resources.cpus ? { NanoCpus: Math.round(input.resources.cpus * 1e9) } : {}),
      ...(input.resources.memoryBytes ? { Memory: input.resources.memoryBytes } : {}),
    },
  };
}

/** Readable in `docker ps`: `hodei-<run>-<stage>-<attempt>-<random>` (a re-provisioned attempt gets a new name). */
export function containerName(ref: AttemptRef): string {
  const stage = ref.stageId.replace(/[^a-zA-Z0-9_.-]+/g, "_").slice(0, 60);
  return `hodei-${ref.runId.slice(0, 36)}-${stage}-${ref.attempt}-${randomBytes(3).toString("hex")}`;
}

/** The text of a non-TTY container's log: frames of an 8-byte header (stream, 0, 0, 0, length) and payload. */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Removes a container and its volumes; true when this call removed it (false: gone already or being removed, or the engine refused, which is logged). */
export async function removeContainer(docker: Docker, id: string, log: (m: string) => void): Promise<boolean> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
    return true;
  } catch (error) {
    const status = dockerStatusOf(error);
    if (status !== 404 && status !== 409) log(`removing container ${id.slice(0, 12)} failed: ${String(error)}`);
    return false;
  }
}
