/**
 * `docker`: one container per stage attempt through the Docker Engine API
 * (dockerode; DOCKER_HOST or the default socket, TLS as docker-connection.ts
 * says). The container's entrypoint
 * is the agent, mounted from the agent image's volume (docker-agent-volume.ts),
 * which dials back and takes only its attempt. The container
 * goes when the attempt is over; one that dies first, an image that cannot be
 * had, or an agent that does not connect in time ends the attempt with that
 * reason. Containers left by an earlier process are re-adopted when their
 * attempt is still leased or running, and removed otherwise.
 *
 * A stage with `services` gets them first (docker-services.ts): on their own
 * network for the attempt, ready before the stage's container starts, and
 * removed with it. How the stage reaches them by name: see `launch`.
 */
import Docker from "dockerode";
import type { AttemptRef, Provisioner } from "../engine/ports.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import { hostAgentRuntime, type AgentRuntime } from "./agent-runtime.js";
import { attemptOfLabels, LABEL_OWNER, storeSelector, type ProvisionerIdentity } from "./attempt-labels.js";
import { dockerConnectionOf, type DockerConnection } from "./docker-connection.js";
import { agentImageOf } from "./agent-image.js";
import { DockerAgentVolume } from "./docker-agent-volume.js";
import { containerSpec, demuxLogs, removeContainer } from "./docker-container.js";
import { LABEL_SERVICE, removeNetwork, removeServices, ServiceFailedError, ServicesCancelledError, startServices, type StartedServices } from "./docker-services.js";
import { dockerStatusOf } from "./docker-status.js";
import { stageResources, type ProvisionerHooks, type StageResources } from "./provider.js";
import { ProvisionedAttempts, type ProvisionedAttempt } from "./provisioned-attempts.js";

export interface DockerProvisionerOptions {
  docker?: Docker;
  hooks: ProvisionerHooks;
  /** What goes into this server's agent image; default: this host's Node and dist/agent-bundle.mjs (hostAgentRuntime). */
  runtime?: AgentRuntime;
  /** HODEI_AGENT_IMAGE: a published agent image to use instead of this server's own. */
  agentImage?: string | null;
  /** HODEI_DOCKER_NETWORK: `host` (default), `bridge`, or a network's name. */
  network?: string;
  /** `missing`: pull an image the engine does not have; `never`: fail the attempt instead. */
  pull?: "missing" | "never";
  resources?: StageResources;
  /** An agent not connected this long after its container was asked for ends the attempt. */
  provisionTimeoutMs?: number;
  /** How often containers of attempts that are over are looked for and removed. */
  reconcileMs?: number;
  /** The store and control plane (labels hodei.store, hodei.owner); only containers of this store are ever touched. */
  identity: ProvisionerIdentity;
}

type Tracked = ProvisionedAttempt<string>;

export class DockerProvisioner implements Provisioner {
  readonly name = "docker";
  readonly docker: Docker;
  private readonly attempts: ProvisionedAttempts<string>;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private readonly agent: DockerAgentVolume;

  constructor(private readonly options: DockerProvisionerOptions) {
    this.docker = options.docker ?? new Docker(dockerConnectionOf().options);
    this.attempts = new ProvisionedAttempts({
      provider: this.name,
      hooks: options.hooks,
      provisionTimeoutMs: options.provisionTimeoutMs ?? 120_000,
      destroy: async (id, ref) => {
        await this.removeContainer(id);
        if (ref) await this.removeServicesOf(ref);
      },
      silentDetail: async (t) => {
        const tail = t.handle ? await this.lastOutput(t.handle) : "";
        return tail ? `; container output: ${tail}` : "";
      },
      watchAdopted: (t) => this.watch(t),
    });
    this.agent = new DockerAgentVolume(this.docker, {
      published: options.agentImage ?? null,
      local: async () => agentImageOf(options.runtime ?? (await hostAgentRuntime())),
      pull: (image) => this.ensureImage(image),
    });
  }

  /** Checks the engine answers, then re-adopts or removes containers left by an earlier process. */
  async start(): Promise<{ adopted: number; removed: number }> {
    await this.docker.ping();
    // The agent's volume is ready before the first stage needs it (loading the image takes seconds).
    await this.agent.container();
    const result = await this.reconcile(true);
    const every = this.options.reconcileMs ?? 10_000;
    this.reconcileTimer = setInterval(() => void this.reconcile(false).catch((e: unknown) => this.log(`clean-up failed: ${String(e)}`)), every);
    this.reconcileTimer.unref();
    return result;
  }

  /**
   * Stops watching and cleaning without removing anything: what a process
   * that dies leaves behind, for the next one to re-adopt or remove (tests).
   */
  detach(): void {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.attempts.detach();
  }

  /** Removes every container this process tracks. */
  async stop(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await this.attempts.stop();
  }

  provision(ref: AttemptRef, stage: PlannedStage): void {
    const t = this.attempts.begin(ref);
    if (t) this.launch(t, stage).catch((error: unknown) => this.attempts.fail(t, describeDockerError(error, stage.image)));
  }

  release(ref: AttemptRef): void {
    this.attempts.release(ref);
  }

  private async launch(t: Tracked, stage: PlannedStage): Promise<void> {
    const { hooks } = this.options;
    const image = stage.image;
    if (!image) throw new Error(`stage ${stage.id} names no image`);
    const [credentials, agentVolumesFrom] = await Promise.all([hooks.agentCredentials(t.ref), this.agent.container()]);
    await this.ensureImage(image);
    if (t.released) return;
    const network = this.options.network ?? "host";
    let services: StartedServices | null = null;
    try {
      if (stage.services && stage.services.length > 0) {
        services = await startServices({
          docker: this.docker,
          ref: t.ref,
          identity: this.options.identity,
          services: stage.services,
          ensureImage: (i) => this.ensureImage(i),
          probeImage: () => this.agent.image(),
          released: () => t.released,
        });
        if (t.released) throw new ServicesCancelledError();
        this.attempts.restartDeadline(t);
      }
      // The stage reaches its services by name through /etc/hosts entries (ExtraHosts) with their
      // addresses on the attempt's network. On the default `host` network, which the stage keeps so
      // its agent still reaches the server on 127.0.0.1, those addresses are reachable because the
      // engine's host routes to its bridge networks (a Linux engine; host networking needs one anyway).
      // On any other network the container is also connected to the attempt's network (below).
      const container = await this.docker.createContainer(
        containerSpec({
          ref: t.ref,
          image,
          agentVolumesFrom,
          server: hooks.server,
          credentials,
          network,
          extraHosts: services?.hosts ?? [],
          resources: stageResources(stage, this.options.resources),
          identity: this.options.identity,
        }),
      );
      t.handle = container.id;
      if (t.released) return void (await this.removeContainer(container.id));
      if (services && network !== "host") await this.docker.getNetwork(services.network).connect({ Container: container.id });
      await container.start();
      this.watch(t);
    } catch (error) {
      // Without a handle, ending the attempt removes nothing: its services go here.
      if (t.handle === null) await this.removeServicesOf(t.ref);
      if (error instanceof ServicesCancelledError) return;
      throw error;
    }
  }

  private async removeServicesOf(ref: AttemptRef): Promise<void> {
    try {
      const append = this.options.hooks.serviceLogs?.bind(this.options.hooks);
      await removeServices(this.docker, ref, this.options.identity, (m) => this.log(m), append ? (text) => append(ref, text) : undefined);
    } catch (error) {
      // The periodic clean-up finds them again (their attempt is over).
      this.log(`removing the services of ${ref.runId}/${ref.stageId}#${ref.attempt} failed: ${String(error)}`);
    }
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (dockerStatusOf(error) !== 404) throw error;
    }
    if (this.options.pull === "never") throw new ImageUnavailableError(image, "not present and pulling is off (HODEI_DOCKER_PULL=never)");
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      throw new ImageUnavailableError(image, `pull failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** A container that stops before its attempt is over ends the attempt, with its exit status and last output. */
  private watch(t: Tracked): void {
    const id = t.handle;
    if (!id) return;
    const container = this.docker.getContainer(id);
    container.wait().then(
      async (result: { StatusCode?: number }) => {
        if (t.released || this.attempts.stopped) return;
        const info = await container.inspect().catch(() => null);
        const oom = info?.State.OOMKilled ? ", out of memory" : "";
        const tail = await this.lastOutput(id);
        this.attempts.fail(t, `container ${id.slice(0, 12)} exited with status ${result.StatusCode ?? "unknown"}${oom} before the attempt ended${tail ? `; last output: ${tail}` : ""}`);
      },
      (error: unknown) => {
        if (!t.released && !this.attempts.stopped) this.attempts.fail(t, `lost track of container ${id.slice(0, 12)}: ${String(error)}`);
      },
    );
  }

  private async removeContainer(id: string): Promise<void> {
    await removeContainer(this.docker, id, (m) => this.log(m));
  }

  /**
   * The containers of this store's runs (never another store's), re-adopted or removed as
   * ProvisionedAttempts.reconcile says; then services and networks of attempts that are over,
   * or (at start-up) of this control plane's attempts it did not re-adopt.
   */
  private async reconcile(startup: boolean): Promise<{ adopted: number; removed: number }> {
    const { store, owner } = this.options.identity;
    const list = await this.docker.listContainers({ all: true, filters: { label: storeSelector(store) } });
    const found = (c: { Id: string; Labels: Record<string, string> }, running: boolean) => ({ handle: c.Id, ref: attemptOfLabels(c.Labels), mine: c.Labels[LABEL_OWNER] === owner, running });
    const stages = list.filter((c) => c.Labels[LABEL_SERVICE] === undefined).map((c) => found(c, c.State === "running"));
    const result = await this.attempts.reconcile(stages, startup);
    const networks = await this.docker.listNetworks({ filters: { label: storeSelector(store) } });
    const extras = [
      ...list.filter((c) => c.Labels[LABEL_SERVICE] !== undefined).map((c) => ({ ...found(c, false), remove: () => removeContainer(this.docker, c.Id, (m) => this.log(m)) })),
      // After the containers: a network with containers attached cannot go.
      ...networks.map((n) => ({ ...found({ Id: n.Id, Labels: n.Labels ?? {} }, false), remove: () => removeNetwork(this.docker, n.Id, (m) => this.log(m)) })),
    ];
    for (const o of extras) {
      const status = o.ref ? await this.options.hooks.attemptStatus(o.ref) : "over";
      // Counted only if still there: removing a stage's container takes its attempt's services along.
      if ((status === "over" || (startup && o.mine && !(o.ref && this.attempts.get(o.ref)))) && (await o.remove())) result.removed++;
    }
    return result;
  }

  private async lastOutput(id: string): Promise<string> {
    try {
      const raw = await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 10, follow: false });
      return demuxLogs(raw).trim().split("\n").slice(-5).join(" | ").slice(0, 1000);
    } catch {
      return "";
    }
  }

  private log(message: string): void {
    this.options.hooks.log(`docker provider: ${message}`);
  }
}

/** The image is neither present nor pullable: retrying the same attempt cannot help. */
export class ImageUnavailableError extends Error {
  readonly retryable = false;
  constructor(
    readonly image: string,
    detail: string,
  ) {
    super(`image ${JSON.stringify(image)} is not available: ${detail}`);
    this.name = "ImageUnavailableError";
  }
}


function describeDockerError(error: unknown, image: string | null): string {
  if (error instanceof ImageUnavailableError || error instanceof ServiceFailedError) return error.message;
  const status = dockerStatusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return `the docker engine refused the container for image ${JSON.stringify(image)}${status ? ` (HTTP ${status})` : ""}: ${message}`;
}

/** Null when the Docker engine of `connection` answers, else why not, naming where it was looked for. */
export async function dockerEngineProblem(connection: DockerConnection = dockerConnectionOf()): Promise<string | null> {
  try {
    await new Docker(connection.options).ping();
    return null;
  } catch (error) {
    return `no Docker engine answers at ${connection.describe}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
