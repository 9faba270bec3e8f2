/**
 * The stand-in's kubelet: runs a Pod's init containers one after another to
 * completion, then its one container, each as a Docker container on the host
 * network, and reports phases as a kubelet would. `emptyDir` volumes are
 * Docker volumes of the Pod's own, shared by its containers and removed with
 * it; `hostPath` volumes are bind mounts.
 */
import type { V1Container } from "@kubernetes/client-node";
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
        ...(limits.cpu ? { NanoCpus: Number(limits.cpu.replace(/m$/, "")) * 1e6 } : {}),
        ...(limits.memory ? { Memory: Number(limits.memory) } : {}),
      },
    });
  };
  for (const init of spec.initContainers ?? []) {
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
