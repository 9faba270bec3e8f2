/**
 * A stand-in for the Kubernetes API on 127.0.0.1, for the calls the
 * kubernetes provider makes (pods: create, list, watch, delete, log; secrets:
 * create, list, delete). Every manifest it receives is validated against the
 * official schemas (kubernetes-models) and refused with 422 otherwise, like
 * an API server would. Each Pod runs as a Docker container (host network),
 * with a kubelet's phases: Pending, ErrImagePull/ImagePullBackOff for a
 * missing image, Running, Succeeded/Failed, DeadlineExceeded after
 * activeDeadlineSeconds, and Evicted on request (`evict`). Deleting a Pod
 * deletes the Secrets it owns, as the garbage collector does.
 */
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import Docker from "dockerode";
import { Pod, Secret } from "kubernetes-models/v1";

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

interface PodRecord {
  pod: V1Pod;
  container: string | null;
  deadline: NodeJS.Timeout | null;
  /** Docker volumes backing the Pod's emptyDir volumes, shared by its init and main containers. */
  volumes: string[];
  /** Docker containers of its sidecars (init containers with restartPolicy Always), running beside the main one. */
  sidecars: { name: string; id: string }[];
}

export class KubeStandIn {
  readonly pods = new Map<string, PodRecord>();
  readonly secrets = new Map<string, V1Secret>();
  /** Every manifest received, as sent, for the tests to inspect. */
  readonly received: (V1Pod | V1Secret)[] = [];
  readonly refused: string[] = [];
  private readonly watchers = new Set<{ selector: string; res: http.ServerResponse }>();
  private readonly docker = new Docker();
  private server: http.Server | null = null;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res).catch((e: unknown) => this.reply(res, 500, status(500, String(e)))));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** A kubeconfig pointing at this stand-in. */
  async writeKubeconfig(file: string): Promise<void> {
    const server = `http://127.0.0.1:${this.port}`;
    await writeFile(file, JSON.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "standin",
      // Plain HTTP on loopback: client-node insists the config says so explicitly.
      clusters: [{ name: "standin", cluster: { server, "insecure-skip-tls-verify": true } }],
      users: [{ name: "standin", user: {} }],
      contexts: [{ name: "standin", context: { cluster: "standin", user: "standin", namespace: "ci" } }],
    }));
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    for (const name of [...this.pods.keys()]) await this.deletePod(name);
    // Volumes of Pods deleted while the kubelet was still setting them up.
    const { Volumes } = await this.docker.listVolumes({ filters: { label: ["hodei-standin.pod"] } });
    for (const v of Volumes ?? []) await this.docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** What the node does under memory pressure: the container is killed, the Pod fails as Evicted. */
  async evict(name: string): Promise<void> {
    const rec = this.pods.get(name);
    if (!rec) throw new Error(`no pod ${name}`);
    this.setStatus(rec, { phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." });
    if (rec.container) await this.docker.getContainer(rec.container).remove({ force: true, v: true }).catch(() => undefined);
    rec.container = null;
    for (const { id } of rec.sidecars.splice(0)) await this.docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|secrets)(?:\/([^/]+))?(\/log)?$/.exec(url.pathname);
    if (!m) return this.reply(res, 404, status(404, `no route ${req.method} ${url.pathname}`));
    const [, namespace = "", kind, name, log] = m;
    const selector = url.searchParams.get("labelSelector") ?? "";
    if (kind === "pods" && req.method === "GET" && !name && url.searchParams.get("watch") === "true") return this.watch(res, selector);
    if (req.method === "POST" && !name) return this.create(res, namespace, kind === "pods" ? "Pod" : "Secret", JSON.parse(await body(req)) as V1Pod | V1Secret);
    if (req.method === "GET" && !name) {
      const items = kind === "pods" ? [...this.pods.values()].map((r) => r.pod) : [...this.secrets.values()];
      return this.reply(res, 200, { apiVersion: "v1", kind: kind === "pods" ? "PodList" : "SecretList", metadata: {}, items: items.filter((o) => matches(o.metadata?.labels, selector)) });
    }
    if (req.method === "GET" && name && log) return this.logs(res, name, url.searchParams.get("container"), url.searchParams.get("tailLines"));
    if (req.method === "DELETE" && name) {
      const gone = kind === "pods" ? await this.deletePod(name) : this.secrets.delete(name) ? {} : null;
      return gone ? this.reply(res, 200, gone) : this.reply(res, 404, status(404, `${kind} "${name}" not found`));
    }
    return this.reply(res, 405, status(405, `${req.method} not supported here`));
  }

  private create(res: http.ServerResponse, namespace: string, kind: "Pod" | "Secret", manifest: V1Pod | V1Secret): void {
    this.received.push(structuredClone(manifest));
    const problem = invalid(kind, manifest, namespace);
    if (problem) {
      this.refused.push(problem);
      return this.reply(res, 422, status(422, problem));
    }
    const meta = manifest.metadata!;
    const name = meta.name!;
    if ((kind === "Pod" ? this.pods : this.secrets).has(name)) return this.reply(res, 409, status(409, `${kind} "${name}" already exists`));
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date();
    if (kind === "Secret") {
      this.secrets.set(name, manifest);
      return this.reply(res, 201, manifest);
    }
    const pod = manifest as V1Pod;
    pod.status = { phase: "Pending" };
    const rec: PodRecord = { pod, container: null, deadline: null, volumes: [], sidecars: [] };
    this.pods.set(name, rec);
    this.emit("ADDED", pod);
    this.reply(res, 201, pod);
    void this.runPod(rec).catch((e: unknown) => this.setStatus(rec, { phase: "Failed", reason: "StandInError", message: String(e) }));
  }

  private reply(res: http.ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  private watch(res: http.ServerResponse, selector: string): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const w = { selector, res };
    this.watchers.add(w);
    res.on("close", () => this.watchers.delete(w));
  }

  emit(type: "ADDED" | "MODIFIED" | "DELETED", pod: V1Pod): void {
    for (const w of this.watchers) if (matches(pod.metadata?.labels, w.selector)) w.res.write(`${JSON.stringify({ type, object: pod })}\n`);
  }

  setStatus(rec: PodRecord, patch: NonNullable<V1Pod["status"]>): void {
    rec.pod.status = { ...rec.pod.status, ...patch };
    this.emit("MODIFIED", rec.pod);
  }

  /** A container's log: the Pod's own, or a sidecar's (`container`); the last `tailLines`. */
  private async logs(res: http.ServerResponse, name: string, container: string | null, tailLines: string | null): Promise<void> {
    const rec = this.pods.get(name);
    const sidecar = container !== null ? rec?.sidecars.find((s) => s.name === container) : undefined;
    const id = sidecar?.id ?? rec?.container;
    if (!id) return this.reply(res, 400, status(400, `pod ${name} has no container${container ? ` ${container}` : ""} running`));
    const raw = await this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, ...(tailLines ? { tail: Number(tailLines) } : {}) });
    res.writeHead(200, { "content-type": "text/plain" }).end(demux(raw));
  }

  private async deletePod(name: string): Promise<V1Pod | null> {
    const rec = this.pods.get(name);
    if (!rec) return null;
    this.pods.delete(name);
    if (rec.deadline) clearTimeout(rec.deadline);
    if (rec.container) await this.docker.getContainer(rec.container).remove({ force: true, v: true }).catch(() => undefined);
    rec.container = null;
    for (const { id } of rec.sidecars.splice(0)) await this.docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    for (const v of rec.volumes) await this.docker.getVolume(v).remove({ force: true }).catch(() => undefined);
    // The garbage collector: Secrets owned by the Pod go with it.
    for (const [secretName, s] of this.secrets) {
      if (s.metadata?.ownerReferences?.some((o) => o.uid === rec.pod.metadata?.uid)) this.secrets.delete(secretName);
    }
    this.emit("DELETED", rec.pod);
    return rec.pod;
  }

  private async runPod(rec: PodRecord): Promise<void> {
    const { runPodContainer } = await import("./kube-standin-kubelet.js");
    await runPodContainer(this, rec, this.docker);
  }
}

export type { PodRecord };

function invalid(kind: "Pod" | "Secret", manifest: V1Pod | V1Secret, namespace: string): string | null {
  try {
    if (kind === "Pod") new Pod(manifest as ConstructorParameters<typeof Pod>[0]).validate();
    else new Secret(manifest as ConstructorParameters<typeof Secret>[0]).validate();
  } catch (error) {
    return `${kind} is invalid: ${error instanceof Error ? error.message : String(error)}`;
  }
  const meta = manifest.metadata;
  if (manifest.kind !== kind || manifest.apiVersion !== "v1") return `expected apiVersion v1, kind ${kind}`;
  if (!meta?.name || !DNS1123.test(meta.name) || meta.name.length > 253) return `metadata.name ${JSON.stringify(meta?.name)} is not a DNS-1123 name`;
  if (meta.namespace && meta.namespace !== namespace) return `metadata.namespace ${meta.namespace} does not match the request's ${namespace}`;
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    if (!LABEL_VALUE.test(v) || v.length > 63) return `label ${k}: invalid value ${JSON.stringify(v)}`;
  }
  return null;
}

function matches(labels: Record<string, string> | undefined, selector: string): boolean {
  return selector.split(",").filter(Boolean).every((term) => {
    const [k, v] = term.split("=");
    return k !== undefined && labels?.[k] === v;
  });
}

function status(code: number, message: string) {
  return { apiVersion: "v1", kind: "Status", status: "Failure", code, message, reason: code === 422 ? "Invalid" : code === 404 ? "NotFound" : "BadRequest" };
}

function body(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

export function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  for (let offset = 0; offset + 8 <= buffer.length; offset += 8 + buffer.readUInt32BE(offset + 4)) {
    parts.push(buffer.subarray(offset + 8, offset + 8 + buffer.readUInt32BE(offset + 4)));
  }
  return Buffer.concat(parts).toString("utf8");
}
