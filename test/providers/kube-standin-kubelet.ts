/**
 * The stand-in's kubelet: runs a Pod's one container as a Docker container
 * on the host network and reports phases as a kubelet would.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type Docker from "dockerode";
import type { KubeStandIn, PodRecord } from "./kube-standin.js";

export async function runPodContainer(api: KubeStandIn, rec: PodRecord, docker: Docker): Promise<void> {
  const spec = rec.pod.spec!;
  const c = spec.containers[0]!;
  const name = rec.pod.metadata!.name!;
  try {
    await docker.getImage(c.image!).inspect();
  } catch {
    const waiting = (reason: string) => [{ name: c.name, image: c.image!, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: `pull access denied for ${c.image}` } } }];
    api.setStatus(rec, { phase: "Pending", containerStatuses: waiting("ErrImagePull") });
    setTimeout(() => api.pods.has(name) && api.setStatus(rec, { containerStatuses: waiting("ImagePullBackOff") }), 300).unref();
    return;
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
  const binds: string[] = [];
  const mounts: Docker.MountConfig = [];
  for (const m of c.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === m.name);
    if (volume?.hostPath) binds.push(`${volume.hostPath.path}:${m.mountPath}${m.readOnly ? ":ro" : ""}`);
    else if (volume?.emptyDir) mounts.push({ Type: "volume", Source: "", Target: m.mountPath });
  }
  const limits = c.resources?.limits ?? {};
  const container = await docker.createContainer({
    Image: c.image,
    Entrypoint: c.command,
    Cmd: c.args,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: c.workingDir,
    Labels: { "hodei-standin.pod": name },
    HostConfig: {
      NetworkMode: "host",
      Binds: binds,
      Mounts: mounts,
      ...(limits.cpu ? { NanoCpus: Number(limits.cpu.replace(/m$/, "")) * 1e6 } : {}),
      ...(limits.memory ? { Memory: Number(limits.memory) } : {}),
    },
  });
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

function status(c: NonNullable<V1Pod["spec"]>["containers"][number], state: object) {
  return { name: c.name, image: c.image!, imageID: c.image!, ready: true, restartCount: 0, state };
}
