/**
 * `kubernetes`: one Pod per stage attempt through the Kubernetes API
 * (@kubernetes/client-node; in-cluster config or KUBECONFIG). A watch on the
 * Pods it labelled turns an image that cannot be pulled, an eviction, a
 * deadline or a Pod that ends early into the end of its attempt, with that
 * reason. Pods left by an earlier process are re-adopted when their attempt
 * is leased or running, and deleted otherwise.
 */
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from "@kubernetes/client-node";
import { attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef, Provisioner } from "../engine/ports.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import { hostAgentRuntime, type AgentRuntime } from "./agent-runtime.js";
import { attemptOfLabels, LABEL_MANAGED, LABEL_OWNER } from "./attempt-labels.js";
import { podManifest, podName, secretManifest } from "./kubernetes-manifests.js";
import { podProblem } from "./kubernetes-pod-status.js";
import type { ProvisionerHooks, StageResources } from "./provider.js";

export interface KubernetesProvisionerOptions {
  hooks: ProvisionerHooks;
  owner: string;
  namespace: string;
  /** Default: KubeConfig.loadFromDefault() (KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: KubeConfig;
  runtime?: AgentRuntime;
  resources?: StageResources;
  provisionTimeoutMs?: number;
  reconcileMs?: number;
}

interface Tracked {
  ref: AttemptRef;
  pod: string | null;
  released: boolean;
  timer: NodeJS.Timeout | null;
}

const SELECTOR = `${LABEL_MANAGED}=true`;

export class KubernetesProvisioner implements Provisioner {
  readonly name = "kubernetes";
  private readonly kc: KubeConfig;
  private readonly api: CoreV1Api;
  private readonly tracked = new Map<string, Tracked>();
  private runtime: AgentRuntime | null = null;
  private watchAbort: AbortController | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: KubernetesProvisionerOptions) {
    this.kc = options.kubeConfig ?? defaultKubeConfig();
    this.api = this.kc.makeApiClient(CoreV1Api);
  }

  async start(): Promise<{ adopted: number; removed: number }> {
    this.runtime = this.options.runtime ?? (await hostAgentRuntime());
    const result = await this.reconcile(true);
    await this.watchPods();
    this.reconcileTimer = setInterval(() => void this.reconcile(false).catch((e: unknown) => this.log(`clean-up failed: ${String(e)}`)), this.options.reconcileMs ?? 10_000);
    this.reconcileTimer.unref();
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.watchAbort?.abort();
    await Promise.all([...this.tracked.values()].map((t) => this.remove(t)));
  }

  provision(ref: AttemptRef, stage: PlannedStage): void {
    const key = attemptLabel(ref);
    if (this.tracked.has(key) || this.stopped) return;
    const t: Tracked = { ref, pod: null, released: false, timer: null };
    this.tracked.set(key, t);
    const timeoutMs = this.options.provisionTimeoutMs ?? 120_000;
    t.timer = setTimeout(() => void this.checkConnected(t, timeoutMs), timeoutMs);
    t.timer.unref();
    this.launch(t, stage, timeoutMs).catch((error: unknown) => this.fail(t, `the Kubernetes API refused the pod for image ${JSON.stringify(stage.image)}: ${describe(error)}`));
  }

  release(ref: AttemptRef): void {
    const t = this.tracked.get(attemptLabel(ref));
    if (t) void this.remove(t);
  }

  private async launch(t: Tracked, stage: PlannedStage, timeoutMs: number): Promise<void> {
    const { hooks, namespace, owner } = this.options;
    if (!stage.image) throw new Error(`stage ${stage.id} names no image`);
    if (!this.runtime) throw new Error("the kubernetes provider was not started");
    const [credentials, sourceDir] = await Promise.all([hooks.agentCredentials(t.ref), hooks.sourceDir(t.ref.runId)]);
    if (t.released) return;
    const name = podName(t.ref);
    const secretName = `${name}-agent`;
    const manifest = podManifest({
      ref: t.ref,
      name,
      namespace,
      image: stage.image,
      runtime: this.runtime,
      server: hooks.server,
      secretName,
      sourceDir,
      resources: this.options.resources ?? { cpus: null, memoryBytes: null },
      deadlineSeconds: stage.timeoutSeconds + Math.ceil(timeoutMs / 1000),
      owner,
    });
    const pod = await this.api.createNamespacedPod({ namespace, body: manifest });
    t.pod = name;
    if (t.released) return void (await this.remove(t));
    await this.api.createNamespacedSecret({ namespace, body: secretManifest(pod, secretName, credentials, t.ref, owner) });
  }

  /** Pods of ours: a problem ends the attempt of a pod this process tracks. */
  private async watchPods(): Promise<void> {
    if (this.stopped) return;
    const path = `/api/v1/namespaces/${this.options.namespace}/pods`;
    this.watchAbort = await new Watch(this.kc).watch(
      path,
      { labelSelector: SELECTOR },
      (type: string, pod: V1Pod) => this.onPodEvent(type, pod),
      () => {
        // The API ends watches now and then: start another.
        if (!this.stopped) setTimeout(() => void this.watchPods().catch((e: unknown) => this.log(`watch failed: ${describe(e)}`)), 1000).unref();
      },
    );
  }

  private onPodEvent(type: string, pod: V1Pod): void {
    const ref = attemptOfLabels(pod.metadata?.annotations);
    const t = ref ? this.tracked.get(attemptLabel(ref)) : undefined;
    if (!t || t.released || t.pod !== pod.metadata?.name) return;
    const problem = type === "DELETED" ? `pod ${t.pod} was deleted before the attempt ended` : podProblem(pod);
    if (problem) this.fail(t, problem);
  }

  private async checkConnected(t: Tracked, timeoutMs: number): Promise<void> {
    t.timer = null;
    if (t.released || (await this.options.hooks.attemptStatus(t.ref)) !== "waiting") return;
    this.fail(t, `the agent did not connect within ${Math.round(timeoutMs / 1000)} s of provisioning (pod ${t.pod ?? "not created"})`);
  }

  private fail(t: Tracked, reason: string): void {
    if (t.released) return;
    this.log(`${attemptLabel(t.ref)}: ${reason}`);
    void this.remove(t);
    this.options.hooks.failed(t.ref, this.name, reason);
  }

  private async remove(t: Tracked): Promise<void> {
    t.released = true;
    if (t.timer) clearTimeout(t.timer);
    this.tracked.delete(attemptLabel(t.ref));
    if (t.pod) await this.deletePod(t.pod);
  }

  private async deletePod(name: string): Promise<void> {
    try {
      // The Secret is owned by the Pod: the cluster's garbage collector deletes it too.
      await this.api.deleteNamespacedPod({ namespace: this.options.namespace, name, gracePeriodSeconds: 0, propagationPolicy: "Background" });
    } catch (error) {
      if (statusOf(error) !== 404) this.log(`deleting pod ${name} failed: ${describe(error)}`);
    }
  }

  private async reconcile(startup: boolean): Promise<{ adopted: number; removed: number }> {
    const list = await this.api.listNamespacedPod({ namespace: this.options.namespace, labelSelector: SELECTOR });
    let adopted = 0;
    let removed = 0;
    for (const pod of list.items) {
      const name = pod.metadata?.name;
      if (!name) continue;
      const ref = attemptOfLabels(pod.metadata?.annotations);
      const mine = pod.metadata?.annotations?.[LABEL_OWNER] === this.options.owner;
      const status = ref ? await this.options.hooks.attemptStatus(ref) : "over";
      const tracked = ref ? this.tracked.get(attemptLabel(ref)) : undefined;
      if (tracked?.pod === name) {
        if (status === "over") void this.remove(tracked);
        continue;
      }
      if (ref && startup && mine && status === "taken" && pod.status?.phase === "Running") {
        this.tracked.set(attemptLabel(ref), { ref, pod: name, released: false, timer: null });
        adopted++;
      } else if (status === "over" || (startup && mine)) {
        await this.deletePod(name);
        removed++;
      }
    }
    return { adopted, removed };
  }

  private log(message: string): void {
    this.options.hooks.log(`kubernetes provider: ${message}`);
  }
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

function describe(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  const message = error instanceof Error ? error.message : String(error);
  return typeof body === "string" && !message.includes(body) ? `${message}: ${body}` : message;
}
