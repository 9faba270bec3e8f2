/**
 * The stand-in's kubelet: runs a Pod's init containers one after another to
 * completion, then its one container, each as a Docker container on the host
 * network, and reports phases as a kubelet would. A sidecar (an init
 * container with `restartPolicy: Always`) is started and left running once
 * its startup probe (exec in it, or a TCP connection to 127.0.0.1: all of a
 * Pod's containers share the host network here, as a Pod's share its own)
 * passed; one whose probe fails for its whole threshold, or that exits, is
 * reported restarted (restartCount 1, CrashLoopBackOff) as a kubelet would,
 * and the Pod's container never starts. `hostAliases` become /etc/hosts entries. `emptyDir` volumes are
 * Docker volumes of the Pod's own, shared by its containers and removed with
 * it; `hostPath` volumes are bind mounts.
 */
import net from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";
import type Docker from "dockerode";
import type { KubeStandIn, PodRecord } from "./kube-standin.js";

export async function runPodContainer(api: KubeStandIn, rec: PodRecord, docker: Docker): Promise<void> {
  const spec = rec.pod.spec!;
  const c = spec.containers[0]!;
  const name = rec.pod.metadata!.name!;
  for (const image of [...(spec.initContainers ?? []), c].map((x) => x.image!)) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      const waiting = (reason: string) => [{ name: c.name, image, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: `pull access denied for ${image}` } } }];
      api.setStatus(rec, { phase: "Pending", containerStatuses: waiting("ErrImagePull") });
      setTimeout(() => api.pods.has(name) && api.setStatus(rec, { containerStatuses: waiting("ImagePullBackOff") }), 300).unref();
      return;
    }
  }
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ""]));
  for (const from of c.envFrom ?? []) {
    const secretName = from.secretRef?.name ?? "";
    // The kubelet waits for a referenced Secret (CreateContainerConfigError meanwhile).
    for (let i = 0; i < 100 && !api.secrets.has(secretName); i++) await new Promise((r) => setTimeout(r, 100));
    const secret = api.secrets.get(secretName);
    if (!secret) return api.setStatus(rec, { phase: "Failed", reason: "CreateContainerConfigError", message: `secret "${secretName}" not found` });
    Object.assign(env, secret.stringData ?? {}, Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()])));
  }
  if (!api.pods.has(name)) return;
  for (const v of spec.volumes ?? []) {
    if (!v.emptyDir) continue;
    const volume = `standin-${name}-${v.name}`;
    await docker.createVolume({ Name: volume, Labels: { "hodei-standin.pod": name } });
    rec.volumes.push(volume);
  }
  try {
    await runContainers(api, rec, docker, env);
  } finally {
    // Deleted while one of its containers still used them: the deletion could not remove them.
    if (!api.pods.has(name)) for (const v of rec.volumes) await docker.getVolume(v).remove({ force: true }).catch(() => undefined);
  }
}

async function runContainers(api: KubeStandIn, rec: PodRecord, docker: Docker, env: Record<string, string>): Promise<void> {
  const spec = rec.pod.spec!;
  const c = spec.containers[0]!;
  const name = rec.pod.metadata!.name!;
  if (!api.pods.has(name)) return;
  const create = (x: V1Container, extraEnv: Record<string, string>) => {
    const binds: string[] = [];
    for (const m of x.volumeMounts ?? []) {
      const volume = spec.volumes?.find((v) => v.name === m.name);
      const ro = m.readOnly ? ":ro" : "";
      if (volume?.hostPath) binds.push(`${volume.hostPath.path}:${m.mountPath}${ro}`);
      else if (volume?.emptyDir) binds.push(`standin-${name}-${volume.name}:${m.mountPath}${ro}`);
    }
    const limits = x.resources?.limits ?? {};
    const extraHosts = (spec.hostAliases ?? []).flatMap((a) => (a.hostnames ?? []).map((h) => `${h}:${a.ip}`));
    return docker.createContainer({
      Image: x.image,
      // A container's `command` replaces the image's entrypoint, its `args` the image's command.
      ...(x.command ? { Entrypoint: x.command } : {}),
      Cmd: x.args,
      Env: Object.entries({ ...(x.env ? Object.fromEntries(x.env.map((e) => [e.name, e.value ?? ""])) : {}), ...extraEnv }).map(([k, v]) => `${k}=${v}`),
      WorkingDir: x.workingDir,
      Labels: { "hodei-standin.pod": name },
      HostConfig: {
        NetworkMode: "host",
        Binds: binds,
        ...(extraHosts.length > 0 ? { ExtraHosts: extraHosts } : {}),
        ...(limits.cpu ? { NanoCpus: Number(limits.cpu.replace(/m$/, "")) * 1e6 } : {}),
        ...(limits.memory ? { Memory: Number(limits.memory) } : {}),
      },
    });
  };
  for (const init of spec.initContainers ?? []) {
    if (init.restartPolicy === "Always") {
      const sidecar = await create(init, {});
      rec.sidecars.push({ name: init.name, id: sidecar.id });
      if (!api.pods.has(name)) return void (await sidecar.remove({ force: true }));
      await sidecar.start();
      const failed = await startupProbe(sidecar, init.startupProbe);
      if (!api.pods.has(name)) return;
      if (failed !== null) {
        const restarted = { ...status(init, { waiting: { reason: "CrashLoopBackOff" } }), ready: false, started: false, restartCount: 1, lastState: { terminated: { exitCode: failed, reason: "Error" } } };
        return api.setStatus(rec, { phase: "Pending", initContainerStatuses: [restarted] });
      }
      api.setStatus(rec, { phase: "Pending", initContainerStatuses: [{ ...status(init, { running: { startedAt: new Date() } }), started: true }] });
      continue;
    }
    const container = await create(init, {});
    rec.container = container.id;
    if (!api.pods.has(name)) return void (await container.remove({ force: true }));
    await container.start();
    api.setStatus(rec, { phase: "Pending", initContainerStatuses: [status(init, { running: { startedAt: new Date() } })] });
    const exit = (await container.wait()) as { StatusCode: number };
    await container.remove({ force: true }).catch(() => undefined);
    rec.container = null;
    if (!api.pods.has(name)) return;
    if (exit.StatusCode !== 0) {
      return api.setStatus(rec, {
        phase: "Failed",
        reason: "Init:Error",
        message: `init container ${init.name} exited with ${exit.StatusCode}`,
        initContainerStatuses: [status(init, { terminated: { exitCode: exit.StatusCode, reason: "Error" } })],
      });
    }
  }
  const container = await create(c, env);
  rec.container = container.id;
  if (!api.pods.has(name)) return void (await container.remove({ force: true }));
  await container.start();
  const startedAt = new Date();
  api.setStatus(rec, { phase: "Running", startTime: startedAt, containerStatuses: [status(c, { running: { startedAt } })] });
  if (spec.activeDeadlineSeconds) {
    rec.deadline = setTimeout(() => {
      if (!api.pods.has(name)) return;
      api.setStatus(rec, { phase: "Failed", reason: "DeadlineExceeded", message: `Pod was active on the node longer than the specified deadline` });
      void container.remove({ force: true }).catch(() => undefined);
    }, spec.activeDeadlineSeconds * 1000);
    rec.deadline.unref();
  }
  const exit = (await container.wait()) as { StatusCode: number };
  if (!api.pods.has(name) || rec.pod.status?.phase === "Failed") return;
  api.setStatus(rec, {
    phase: exit.StatusCode === 0 ? "Succeeded" : "Failed",
    containerStatuses: [status(c, { terminated: { exitCode: exit.StatusCode, reason: exit.StatusCode === 0 ? "Completed" : "Error" } })],
  });
}

function status(c: V1Container, state: object) {
  return { name: c.name, image: c.image!, imageID: c.image!, ready: true, restartCount: 0, state };
}

/** Null once the probe passed (or there is none); else the exit code the restarted sidecar is reported with (137: killed for its probe). */
async function startupProbe(container: Docker.Container, probe: V1Probe | undefined): Promise<number | null> {
  const tries = probe ? (probe.failureThreshold ?? 3) : 0;
  for (let i = 0; i < tries; i++) {
    const state = (await container.inspect()).State;
    if (!state.Running) return state.ExitCode;
    if (await probeOnce(container, probe!)) return null;
    await new Promise((r) => setTimeout(r, (probe!.periodSeconds ?? 10) * 1000));
  }
  if (probe) return 137;
  const state = (await container.inspect()).State;
  return state.Running ? null : state.ExitCode;
}

async function probeOnce(container: Docker.Container, probe: V1Probe): Promise<boolean> {
  if (probe.exec?.command) {
    const exec = await container.exec({ Cmd: probe.exec.command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    stream.resume();
    await new Promise((resolve) => stream.once("end", resolve).once("close", resolve));
    for (let i = 0; i < 20; i++) {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode === 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }
  const port = Number(probe.tcpSocket?.port);
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
