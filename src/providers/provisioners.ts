/**
 * The per-attempt providers a control plane enables (HODEI_PROVIDERS), made
 * before the engine (which takes them) and started before it resumes runs
 * (so containers and pods of an earlier process are re-adopted or removed
 * first).
 *
 * Each provider's module is loaded only when it is enabled: the Kubernetes
 * client alone adds about 80 MB to a process's RSS, dockerode about 30 MB, and
 * a server with only local agents needs neither.
 */
import type { DockerProvisioner } from "./docker.js";
import type { KubernetesProvisioner } from "./kubernetes.js";
import type { ProvisionerIdentity } from "./attempt-labels.js";
import type { ProviderSettings } from "./provider-settings.js";
import type { ProvisionerHooks } from "./provider.js";

export interface Provisioners {
  /** For EngineOptions.provisioners. */
  byProvider: { docker?: DockerProvisioner; kubernetes?: KubernetesProvisioner };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createProvisioners(
  enabled: readonly string[],
  settings: ProviderSettings,
  hooks: ProvisionerHooks,
  identity: ProvisionerIdentity,
): Promise<Provisioners> {
  const byProvider: Provisioners["byProvider"] = {};
  const common = { hooks, identity, resources: settings.resources, provisionTimeoutMs: settings.provisionTimeoutMs };
  if (enabled.includes("docker")) {
    const [{ DockerProvisioner }, { default: Docker }] = await Promise.all([import("./docker.js"), import("dockerode")]);
    const { network, pull, connection } = settings.docker;
    byProvider.docker = new DockerProvisioner({ ...common, docker: new Docker(connection.options), network, pull, agentImage: settings.agentImage });
  }
  if (enabled.includes("kubernetes")) {
    const { KubernetesProvisioner } = await import("./kubernetes.js");
    byProvider.kubernetes = new KubernetesProvisioner({ ...common, namespace: settings.kubernetes.namespace, agentImage: settings.agentImage });
  }
  const all = (): (DockerProvisioner | KubernetesProvisioner)[] => Object.values(byProvider).filter((p) => p !== undefined);
  return {
    byProvider,
    async start() {
      for (const p of all()) {
        const { adopted, removed } = await p.start();
        if (adopted + removed > 0) hooks.log(`${p.name} provider: re-adopted ${adopted}, removed ${removed} left by an earlier process`);
      }
    },
    async stop() {
      await Promise.all(all().map((p) => p.stop()));
    },
  };
}
