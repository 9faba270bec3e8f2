/**
 * A docker stage's `services:` (pipeline-parser/services.ts): a user-defined
 * bridge network per attempt, and on it one container per service with the
 * service's name as its network alias (so services reach each other by
 * name), each labelled with the attempt's labels plus `hodei.service`, so
 * the provider's clean-up finds them like the stage's container, also after
 * a crash. The stage's container starts only once every service is ready:
 * its `ready.command` exited 0 in its container (tried every second), or its
 * port accepted a connection from a probe container (the agent image's
 * `--probe-tcp`, tcp-probe.ts) on the attempt's network, or, without either,
 * it is running. A service that exits first, or is not ready in time, fails
 * the attempt with a reason that names it and quotes its last output.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import type { AttemptRef } from "../engine/ports.js";
import type { PlannedService } from "../pipeline-parser/types.js";
import { attemptLabels, LABEL_ATTEMPT, LABEL_RUN, LABEL_STAGE, storeSelector, type ProvisionerIdentity } from "./attempt-labels.js";
import { demuxLogs, removeContainer } from "./docker-container.js";
import { dockerStatusOf } from "./docker-status.js";
import { SERVICE_LOG_LINES } from "./provider.js";

/** On a service's container (and its readiness probe): the service's name. */
export const LABEL_SERVICE = "hodei.service";
/** On a readiness probe's container. */
const LABEL_PROBE = "hodei.probe";
/** On a service's container: its place among the stage's services (their logs go into the stage's log in this order). */
const LABEL_SERVICE_ORDER = "hodei.service-order";

export interface StartedServices {
  /** The attempt's network (its name). */
  network: string;
  /** `NAME:IP` of each service on that network, for the stage container's ExtraHosts. */
  hosts: string[];
}

export interface ServicesInput {
  docker: Docker;
  ref: AttemptRef;
  identity: ProvisionerIdentity;
  services: readonly PlannedService[];
  /** Makes an image present as the provider's pull policy says; throws why not. */
  ensureImage(image: string): Promise<void>;
  /** The agent image, whose `--probe-tcp` waits for a service's port. */
  probeImage(): Promise<string>;
  /** True once the attempt is over: waiting stops. */
  released(): boolean;
}

/** A service failed to start or to get ready: the attempt fails with this message, which names the service. */
export class ServiceFailedError extends Error {
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(message);
    this.name = "ServiceFailedError";
  }
}

/** The attempt ended while its services were starting; nothing to report. */
export class ServicesCancelledError extends Error {
  constructor() {
    super("the attempt ended while its services were starting");
    this.name = "ServicesCancelledError";
  }
}

/** Creates the attempt's network and services and waits until all are ready. On failure, what was made is left for `removeServices`. */
export async function startServices(input: ServicesInput): Promise<StartedServices> {
  const { docker, ref, identity } = input;
  const labels = attemptLabels(ref, identity);
  const network = networkName(ref);
  await docker.createNetwork({ Name: network, Driver: "bridge", CheckDuplicate: true, Labels: labels });
  const started: { service: PlannedService; id: string }[] = [];
  for (const [order, service] of input.services.entries()) {
    try {
      await input.ensureImage(service.image);
    } catch (error) {
      throw new ServiceFailedError(service.name, `service ${JSON.stringify(service.name)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (input.released()) throw new ServicesCancelledError();
    const container = await docker.createContainer({
      name: `${network}-${service.name}`,
      Image: service.image,
      Env: Object.entries(service.env).map(([k, v]) => `${k}=${v}`),
      ...(service.command ? { Cmd: service.command } : {}),
      Labels: { ...labels, [LABEL_SERVICE]: service.name, [LABEL_SERVICE_ORDER]: String(order) },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [service.name] } } },
    });
    started.push({ service, id: container.id });
    await container.start();
  }
  const hosts: string[] = [];
  const ips = new Map<string, string>();
  for (const { service, id } of started) {
    const info = await docker.getContainer(id).inspect();
    const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? "";
    // Empty when it exited already: waitReady says so, with its output.
    if (ip) hosts.push(`${service.name}:${ip}`);
    ips.set(service.name, ip);
  }
  let failed = false;
  const stop = (): boolean => failed || input.released();
  await Promise.all(
    started.map(({ service, id }) =>
      waitReady(input, network, service, id, ips.get(service.name) ?? "", stop).catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  return { network, hosts };
}

/**
 * Removes the attempt's service containers (and probes), then its network; what is gone already is not an error.
 * With `logs`, each service's last output (up to SERVICE_LOG_LINES lines) is handed to it first, as one text.
 */
export async function removeServices(docker: Docker, ref: AttemptRef, identity: ProvisionerIdentity, log: (m: string) => void, logs?: (text: string) => Promise<void>): Promise<void> {
  const label = [...storeSelector(identity.store), `${LABEL_RUN}=${ref.runId}`, `${LABEL_STAGE}=${ref.stageId}`, `${LABEL_ATTEMPT}=${ref.attempt}`];
  const containers = await docker.listContainers({ all: true, filters: { label: [...label, LABEL_SERVICE] } });
  if (logs) {
    const services = containers.filter((c) => c.Labels[LABEL_PROBE] === undefined).sort((a, b) => Number(a.Labels[LABEL_SERVICE_ORDER]) - Number(b.Labels[LABEL_SERVICE_ORDER]));
    const parts: string[] = [];
    for (const c of services) {
      const text = await containerOutput(docker, c.Id, SERVICE_LOG_LINES);
      parts.push(`\n--- service ${c.Labels[LABEL_SERVICE] ?? "?"}: its output (last ${SERVICE_LOG_LINES} lines at most) ---\n${text}${text.endsWith("\n") || text === "" ? "" : "\n"}`);
    }
    if (parts.length > 0) await logs(parts.join("")).catch((e: unknown) => log(`storing the services' output of ${ref.stageId}#${ref.attempt} failed: ${String(e)}`));
  }
  await Promise.all(containers.map((c) => removeContainer(docker, c.Id, log)));
  const networks = await docker.listNetworks({ filters: { label } });
  await Promise.all(networks.map((n) => removeNetwork(docker, n.Id, log)));
}

/** True when this call removed it; one with containers still attached stays for the next clean-up. */
export async function removeNetwork(docker: Docker, id: string, log: (m: string) => void): Promise<boolean> {
  try {
    await docker.getNetwork(id).remove();
    return true;
  } catch (error) {
    if (dockerStatusOf(error) !== 404) log(`removing network ${id.slice(0, 12)} failed: ${String(error)}`);
    return false;
  }
}

/** `hodei-<run>-<stage>-<attempt>-<random>`, short enough that a service's container name (this plus `-NAME`) stays readable. */
function networkName(ref: AttemptRef): string {
  const stage = ref.stageId.replace(/[^a-zA-Z0-9_.-]+/g, "_").slice(0, 30);
  return `hodei-${ref.runId.slice(0, 8)}-${stage}-${ref.attempt}-${randomBytes(3).toString("hex")}`;
}

async function waitReady(input: ServicesInput, network: string, service: PlannedService, id: string, ip: string, stop: () => boolean): Promise<void> {
  const { docker } = input;
  const container = docker.getContainer(id);
  const deadline = Date.now() + service.readyTimeoutSeconds * 1000;
  const quoted = JSON.stringify(service.name);
  const notRunning = async (): Promise<ServiceFailedError | null> => {
    const state = (await container.inspect()).State;
    if (state.Running) return null;
    const output = await lastLines(docker, id);
    return new ServiceFailedError(service.name, `service ${quoted} exited with status ${state.ExitCode} before it was ready${output ? `; its last output: ${output}` : ""}`);
  };
  const timedOut = async (detail: string): Promise<ServiceFailedError> => {
    const output = await lastLines(docker, id);
    return new ServiceFailedError(service.name, `service ${quoted} was not ready within ${service.readyTimeoutSeconds} s: ${detail}${output ? `; its last output: ${output}` : ""}`);
  };
  const ready = service.ready;
  if (ready === null) {
    const exited = await notRunning();
    if (exited) throw exited;
    return;
  }
  if ("command" in ready) {
    for (;;) {
      if (stop()) throw new ServicesCancelledError();
      const exited = await notRunning();
      if (exited) throw exited;
      const result = await execOnce(container, ready.command, Math.max(1000, deadline - Date.now()));
      if (result.code === 0) return;
      const last = `${JSON.stringify(ready.command)} ${result.code === null ? "did not finish" : `exited with status ${result.code}`}${result.output ? ` (${result.output})` : ""}`;
      if (Date.now() + 1000 > deadline) throw await timedOut(`the ready command ${last}`);
      await sleep(1000);
    }
  }
  const probe = await docker.createContainer({
    name: `${network}-${service.name}-probe`,
    Image: await input.probeImage(),
    Cmd: ["--probe-tcp", `${ip || service.name}:${ready.port}`, "--probe-timeout", String(service.readyTimeoutSeconds)],
    Labels: { ...attemptLabels(input.ref, input.identity), [LABEL_SERVICE]: service.name, [LABEL_PROBE]: "true" },
    HostConfig: { NetworkMode: network },
  });
  try {
    await probe.start();
    for (;;) {
      if (stop()) throw new ServicesCancelledError();
      const exited = await notRunning();
      if (exited) throw exited;
      const state = (await probe.inspect()).State;
      if (!state.Running) {
        if (state.ExitCode === 0) return;
        throw await timedOut(`port ${ready.port}: ${(await lastLines(docker, probe.id)) || `the probe exited with status ${state.ExitCode}`}`);
      }
      // The probe stops itself at the deadline; this only guards against one that hangs.
      if (Date.now() > deadline + 15_000) throw await timedOut(`port ${ready.port}: the probe did not finish`);
      await sleep(250);
    }
  } finally {
    await removeContainer(docker, probe.id, () => undefined);
  }
}

/** Runs `cmd` in the container; its exit code (null: still running after `timeoutMs`) and last output. */
async function execOnce(container: Docker.Container, cmd: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream: Duplex = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const finished = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    stream.once("end", done);
    stream.once("close", done);
    stream.once("error", done);
  });
  stream.destroy();
  const output = tail(demuxLogs(Buffer.concat(chunks)));
  if (!finished) return { code: null, output };
  // The exit code is set a moment after the output ends.
  for (let i = 0; i < 20; i++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return { code: info.ExitCode, output };
    await sleep(50);
  }
  return { code: null, output };
}

async function lastLines(docker: Docker, id: string): Promise<string> {
  return tail(await containerOutput(docker, id, 20));
}

/** A container's last `lines` of stdout and stderr as text; "" when the engine cannot say. */
async function containerOutput(docker: Docker, id: string, lines: number): Promise<string> {
  const raw = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false }).catch(() => null);
  return raw ? demuxLogs(raw) : "";
}

/** The last lines of some output, on one line, at most 1000 characters. */
function tail(text: string): string {
  return text.trim().split("\n").slice(-10).join(" | ").slice(-1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
