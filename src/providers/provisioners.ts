/**
 * The per-attempt providers a control plane enables (HODEI_PROVIDERS), made
 * before the engine (which takes them) and started before it resumes runs
 * (so containers and pods of an earlier process are re-adopted or removed
 * first).
 */
import { DockerProvisioner } from "./docker.js";
import { KubernetesProvisioner } from "./kubernetes.js";
import type { ProvisionerIdentity } from "./attempt-labels.js";
import type { ProviderSettings } from "./provider-settings.js";
import type { ProvisionerHooks } from "./provider.js";

export interface Provisioners {
  /** For EngineOptions.provisioners. */
  byProvider: { docker?: DockerProvisioner; kubernetes?: KubernetesProvisioner };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createProvisioners(
  enabled: readonly string[],
  settings: ProviderSettings,
  hooks: ProvisionerHooks,
  identity: ProvisionerIdentity,
): Provisioners {
  const byProvider: Provisioners["byProvider"] = {};
  const common = { hooks, identity, resources: settings.resources, provisionTimeoutMs: settings.provisionTimeoutMs };
  if (enabled.includes("docker")) byProvider.docker = new DockerProvisioner({ ...common, network: settings.docker.network, pull: settings.docker.pull });
  if (enabled.includes("kubernetes")) byProvider.kubernetes = new KubernetesProvisioner({ ...common, namespace: settings.kubernetes.namespace });
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
