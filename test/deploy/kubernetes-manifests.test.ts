/**
 * deploy/kubernetes/hodei.yaml against the official Kubernetes schemas
 * (kubernetes-models: types and required fields), and against what Hodei
 * needs of it: the Role grants exactly the calls the kubernetes provider
 * makes (src/providers/kubernetes.ts), the Deployment runs `hodei server`
 * with settings `loadServerConfig` accepts, and nothing mounts a host path.
 */
import { readFileSync } from "node:fs";
import { Deployment } from "kubernetes-models/apps/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Service, ServiceAccount } from "kubernetes-models/v1";
import { expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadServerConfig } from "../../src/server/config.js";

const text = readFileSync(new URL("../../deploy/kubernetes/hodei.yaml", import.meta.url), "utf8");
const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string } } & Record<string, unknown>);
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

it("every document validates against the official schema of its kind", () => {
  expect(docs.map((d) => d.kind)).toEqual(["ServiceAccount", "Role", "RoleBinding", "Deployment", "Service"]);
  const models: Record<string, (m: never) => { validate(): void }> = {
    ServiceAccount: (m) => new ServiceAccount(m),
    Role: (m) => new Role(m),
    RoleBinding: (m) => new RoleBinding(m),
    Deployment: (m) => new Deployment(m),
    Service: (m) => new Service(m),
  };
  for (const d of docs) expect(() => models[d.kind]!(d as never).validate(), d.kind).not.toThrow();
});

it("the Role grants the provider's calls on pods, their logs and secrets, and nothing else", () => {
  const [role] = byKind("Role") as unknown as [{ rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }];
  expect(role.rules).toEqual([
    { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: [""], resources: ["secrets"], verbs: ["create", "get", "delete"] },
  ]);
  const [binding] = byKind("RoleBinding") as unknown as [{ subjects: { name: string }[]; roleRef: { name: string } }];
  expect(binding.roleRef.name).toBe("hodei-stages");
  expect(binding.subjects.map((s) => s.name)).toEqual(["hodei"]);
});

it("the Deployment runs hodei server with a configuration the server accepts, probes /healthz and mounts no host path", () => {
  const [deployment] = byKind("Deployment") as unknown as [
    { spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: { args: string[]; env: { name: string; value?: string }[]; readinessProbe: { httpGet: { path: string } } }[]; volumes: Record<string, unknown>[] } } } },
  ];
  const pod = deployment.spec.template.spec;
  expect(deployment.spec.replicas).toBeGreaterThan(1);
  expect(pod.serviceAccountName).toBe("hodei");
  const [container] = pod.containers;
  expect(container!.args).toEqual(["server"]);
  expect(container!.readinessProbe.httpGet.path).toBe("/healthz");
  expect(pod.volumes.every((v) => !("hostPath" in v))).toBe(true);
  // The literal settings, with the Secret's and the downward API's stand-ins, load without a ConfigError.
  const env: Record<string, string> = { DATABASE_URL: "postgres://hodei@db:5432/hodei", HODEI_ADMIN_TOKEN: "t", HODEI_SECRETS_KEY: "ab".repeat(32), HODEI_KUBERNETES_NAMESPACE: "hodei" };
  for (const e of container!.env) if (e.value !== undefined) env[e.name] = e.value.replace("$(POD_IP)", "10.0.0.7");
  const config = loadServerConfig(env);
  expect(config.providers).toEqual(["local", "kubernetes"]);
  expect(config.host).toBe("0.0.0.0");
});
