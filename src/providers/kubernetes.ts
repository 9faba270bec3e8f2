/**
 * `kubernetes`: one Pod per stage attempt through the Kubernetes API
 * (@kubernetes/client-node; in-cluster config or KUBECONFIG). A watch on the
 * Pods it labelled turns an image that cannot be pulled, an eviction, a
 * deadline or a Pod that ends early into the end of its attempt, with that
 * reason. Pods left by an earlier process are re-adopted when their attempt
 * is leased or running, and deleted otherwise.
 */
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from "@kubernetes/client-node";
import type { AttemptRef, Provisioner } from "../engine/ports.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import { agentImageOf } from "./agent-image.js";
import { hostAgentRuntime, type AgentRuntime } from "./agent-runtime.js";
import { attemptOfLabels, LABEL_OWNER, storeSelector, type ProvisionerIdentity } from "./attempt-labels.js";
import { ANNOTATION_SERVICES, podManifest, podName, secretManifest } from "./kubernetes-manifests.js";
import { podProblem } from "./kubernetes-pod-status.js";
import { SERVICE_LOG_LINES, stageResources, type ProvisionerHooks, type StageResources } from "./provider.js";
import { ProvisionedAttempts, type ProvisionedAttempt } from "./provisioned-attempts.js";

export interface KubernetesProvisionerOptions {
  hooks: ProvisionerHooks;
  /** The store and control plane (label hodei.store, annotation hodei.owner); only pods of this store are ever touched. */
  identity: ProvisionerIdentity;
  namespace: string;
  /** Default: KubeConfig.loadFromDefault() (KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: KubeConfig;
  /** What goes into this server's agent image (whose tag Pods use without agentImage); default: hostAgentRuntime(). */
  runtime?: AgentRuntime;
  /** HODEI_AGENT_IMAGE: the published agent image the Pods' init containers use. */
  agentImage?: string | null;
  resources?: StageResources;
  provisionTimeoutMs?: number;
  reconcileMs?: number;
}

export class KubernetesProvisioner implements Provisioner {
  readonly name = "kubernetes";
  private readonly kc: KubeConfig;
  private readonly api: CoreV1Api;
  private readonly attempts: ProvisionedAttempts<string>;
  /** Pods of this store's runs: `hodei.managed=true,hodei.store=<id>`. */
  private readonly selector: string;
  private agentImage: string | null = null;
  private watchAbort: AbortController | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  /** Pods with services whose stage container has started (their connection deadline was restarted). */
  private readonly servicesReady = new Set<string>();
  /** The service (sidecar) names of the pods this process made or found, for their logs at the end. */
  private readonly podServices = new Map<string, string[]>();

  constructor(private readonly options: KubernetesProvisionerOptions) {
    this.kc = options.kubeConfig ?? defaultKubeConfig();
    this.api = this.kc.makeApiClient(CoreV1Api);
    this.selector = storeSelector(options.identity.store).join(",");
    this.attempts = new ProvisionedAttempts({
      provider: this.name,
      hooks: options.hooks,
      provisionTimeoutMs: options.provisionTimeoutMs ?? 120_000,
      destroy: async (name, ref) => {
        this.servicesReady.delete(name);
        const services = this.podServices.get(name);
        this.podServices.delete(name);
        if (services && ref) await this.appendServiceLogs(name, ref, services);
        await this.deletePod(name);
      },
      silentDetail: (t) => Promise.resolve(` (pod ${t.handle ?? "not created"})`),
      // The pod watch covers re-adopted pods as well.
      watchAdopted: () => undefined,
    });
  }

  async start(): Promise<{ adopted: number; removed: number }> {
    this.agentImage = this.options.agentImage ?? (await agentImageOf(this.options.runtime ?? (await hostAgentRuntime()))).tag;
    if (!this.options.agentImage) {
      this.log(`Pods take the agent from image ${this.agentImage}, this server's own: the cluster must be able to pull it (publish it: npm run build:agent-image; or set HODEI_AGENT_IMAGE)`);
    }
    const result = await this.reconcile(true);
    await this.watchPods();
    this.reconcileTimer = setInterval(() => void this.reconcile(false).catch((e: unknown) => this.log(`clean-up failed: ${String(e)}`)), this.options.reconcileMs ?? 10_000);
    this.reconcileTimer.unref();
    return result;
  }

  async stop(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.watchAbort?.abort();
    await this.attempts.stop();
  }

  /** Stops watching and cleaning without deleting anything: what a process that dies leaves behind (tests). */
  detach(): void {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.attempts.detach();
    this.watchAbort?.abort();
  }

  provision(ref: AttemptRef, stage: PlannedStage): void {
    const t = this.attempts.begin(ref);
    if (!t) return;
    const timeoutMs = this.options.provisionTimeoutMs ?? 120_000;
    this.launch(t, stage, timeoutMs).catch((error: unknown) => this.attempts.fail(t, `the Kubernetes API refused the pod for image ${JSON.stringify(stage.image)}: ${describe(error)}`));
  }

  release(ref: AttemptRef): void {
    this.attempts.release(ref);
  }

  private async launch(t: ProvisionedAttempt<string>, stage: PlannedStage, timeoutMs: number): Promise<void> {
    const { hooks, namespace, identity } = this.options;
    if (!stage.image) throw new Error(`stage ${stage.id} names no image`);
    if (!this.agentImage) throw new Error("the kubernetes provider was not started");
    const credentials = await hooks.agentCredentials(t.ref);
    if (t.released) return;
    const name = podName(t.ref);
    const secretName = `${name}-agent`;
    // Sidecars start in order, each once the one before passed its startup probe: their timeouts add up.
    const readySeconds = (stage.services ?? []).reduce((sum, s) => sum + s.readyTimeoutSeconds, 0);
    const manifest = podManifest({
      ref: t.ref,
      name,
      namespace,
      image: stage.image,
      agentImage: this.agentImage,
      server: hooks.server,
      secretName,
      resources: stageResources(stage, this.options.resources),
      // Services get ready (their startup probes, one sidecar after another) before the agent can start.
      deadlineSeconds: stage.timeoutSeconds + Math.ceil(timeoutMs / 1000) + readySeconds,
      identity,
      services: stage.services ?? [],
    });
    const pod = await this.api.createNamespacedPod({ namespace, body: manifest });
    t.handle = name;
    if (stage.services && stage.services.length > 0) this.podServices.set(name, stage.services.map((s) => s.name));
    // Until the stage's container starts (onPodEvent), the services' readiness may take its time too.
    if (readySeconds > 0) this.attempts.restartDeadline(t, 1000 * readySeconds);
    if (t.released) return void (await this.deletePod(name));
    await this.api.createNamespacedSecret({ namespace, body: secretManifest(pod, secretName, credentials, t.ref, identity) });
  }

  /** Pods of this store: a problem ends the attempt of a pod this process tracks. */
  private async watchPods(): Promise<void> {
    if (this.attempts.stopped) return;
    const path = `/api/v1/namespaces/${this.options.namespace}/pods`;
    this.watchAbort = await new Watch(this.kc).watch(
      path,
      { labelSelector: this.selector },
      (type: string, pod: V1Pod) => this.onPodEvent(type, pod),
      () => {
        // The API ends watches now and then: start another.
        if (!this.attempts.stopped) setTimeout(() => void this.watchPods().catch((e: unknown) => this.log(`watch failed: ${describe(e)}`)), 1000).unref();
      },
    );
  }

  private onPodEvent(type: string, pod: V1Pod): void {
    const ref = attemptOfLabels(pod.metadata?.annotations);
    const t = ref ? this.attempts.get(ref) : undefined;
    if (!t || t.released || t.handle !== pod.metadata?.name) return;
    const problem = type === "DELETED" ? `pod ${t.handle} was deleted before the attempt ended` : podProblem(pod);
    if (problem) return this.attempts.fail(t, problem);
    // Once the stage's container runs, its services are ready: the agent's connection deadline counts from then.
    if (pod.metadata?.annotations?.[ANNOTATION_SERVICES] && pod.status?.containerStatuses?.some((c) => c.state?.running) && !this.servicesReady.has(t.handle)) {
      this.servicesReady.add(t.handle);
      this.attempts.restartDeadline(t);
    }
  }

  /** The last lines of each service's log, appended to the stage's log (ProvisionerHooks.serviceLogs). */
  private async appendServiceLogs(pod: string, ref: AttemptRef, services: readonly string[]): Promise<void> {
    const append = this.options.hooks.serviceLogs?.bind(this.options.hooks);
    if (!append) return;
    const parts: string[] = [];
    for (const container of services) {
      let text: string;
      try {
        text = await this.api.readNamespacedPodLog({ name: pod, namespace: this.options.namespace, container, tailLines: SERVICE_LOG_LINES });
      } catch (error) {
        // Not started (its image could not be pulled, an earlier service was not ready): nothing to show.
        text = `(no log: ${describe(error)})\n`;
      }
      parts.push(`\n--- service ${container}: its output (last ${SERVICE_LOG_LINES} lines at most) ---\n${text}${text.endsWith("\n") || text === "" ? "" : "\n"}`);
    }
    await append(ref, parts.join("")).catch((error: unknown) => this.log(`storing the services' output of ${ref.stageId}#${ref.attempt} failed: ${describe(error)}`));
  }

  private async deletePod(name: string): Promise<void> {
    try {
      // The Secret is owned by the Pod: the cluster's garbage collector deletes it too.
      await this.api.deleteNamespacedPod({ namespace: this.options.namespace, name, gracePeriodSeconds: 0, propagationPolicy: "Background" });
    } catch (error) {
      if (statusOf(error) !== 404) this.log(`deleting pod ${name} failed: ${describe(error)}`);
    }
  }

  /** The pods of this store's runs (never another store's), re-adopted or deleted as ProvisionedAttempts.reconcile says. */
  private async reconcile(startup: boolean): Promise<{ adopted: number; removed: number }> {
    const list = await this.api.listNamespacedPod({ namespace: this.options.namespace, labelSelector: this.selector });
    const found = list.items.flatMap((pod) => {
      const name = pod.metadata?.name;
      if (!name) return [];
      const annotations = pod.metadata?.annotations;
      const services = annotations?.[ANNOTATION_SERVICES];
      if (services) this.podServices.set(name, services.split(","));
      return [{ handle: name, ref: attemptOfLabels(annotations), mine: annotations?.[LABEL_OWNER] === this.options.identity.owner, running: pod.status?.phase === "Running" }];
    });
    return this.attempts.reconcile(found, startup);
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
