/**
 * The docker provider's agent: a container created (never started) from the
 * agent image, whose /opt/hodei volume every stage container mounts
 * read-only (`VolumesFrom`). Docker fills that volume from the image when it
 * creates the container, so nothing of the server's host is mounted and the
 * engine may be remote. The image is the one HODEI_AGENT_IMAGE names (pulled
 * as HODEI_DOCKER_PULL allows) or, by default, this server's own agent image
 * (agent-image.ts), loaded into the engine when it lacks it. One such
 * container per image and engine, shared by every server using that engine:
 * its name is the image's.
 */
import type Docker from "dockerode";
import { agentImageArchiveStream, type AgentImage } from "./agent-image.js";
import { dockerStatusOf } from "./docker-status.js";

export const LABEL_AGENT_VOLUME = "hodei.agent-volume";

export interface AgentVolumeSource {
  /** A published agent image (HODEI_AGENT_IMAGE); null: the server's own, loaded when missing. */
  published: string | null;
  /** This server's agent image, when there is no published one. */
  local: () => Promise<AgentImage>;
  /** Makes `image` present in the engine, pulling it as the provider's pull policy says. */
  pull: (image: string) => Promise<void>;
}

export class DockerAgentVolume {
  private name: Promise<string> | null = null;
  private imageTag: string | null = null;

  constructor(
    private readonly docker: Docker,
    private readonly source: AgentVolumeSource,
  ) {}

  /** The container to mount the agent from, made (and its image loaded) on first use and again if it went. */
  async container(): Promise<string> {
    if (this.name) {
      const name = await this.name;
      try {
        await this.docker.getContainer(name).inspect();
        return name;
      } catch (error) {
        if (dockerStatusOf(error) !== 404) throw error;
      }
    }
    this.name = this.make();
    this.name.catch(() => (this.name = null));
    return this.name;
  }

  /** The agent image itself (present in the engine): services' TCP readiness probes run from it (tcp-probe.ts). */
  async image(): Promise<string> {
    await this.container();
    if (this.imageTag === null) throw new Error("the agent image is not known after making its volume");
    return this.imageTag;
  }

  private async make(): Promise<string> {
    const image = this.source.published ?? (await ensureAgentImageLoaded(this.docker, await this.source.local()));
    if (this.source.published) await this.source.pull(image);
    this.imageTag = image;
    const name = `hodei-agent-${image.replace(/[^a-zA-Z0-9_.-]+/g, "-").slice(0, 100)}`;
    try {
      await this.docker.createContainer({ name, Image: image, Labels: { [LABEL_AGENT_VOLUME]: "true" } });
    } catch (error) {
      // Another server on this engine made it first.
      if (dockerStatusOf(error) !== 409) throw error;
    }
    return name;
  }
}

/** Loads `image` into the engine unless it has it; its tag. */
export async function ensureAgentImageLoaded(docker: Docker, image: AgentImage): Promise<string> {
  try {
    await docker.getImage(image.tag).inspect();
    return image.tag;
  } catch (error) {
    if (dockerStatusOf(error) !== 404) throw error;
  }
  const archive = await agentImageArchiveStream(image);
  try {
    const progress = await docker.loadImage(archive.stream, { quiet: true });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(progress, (e: Error | null) => (e ? reject(e) : resolve())));
  } finally {
    await archive.done();
  }
  await docker.getImage(image.tag).inspect();
  return image.tag;
}
