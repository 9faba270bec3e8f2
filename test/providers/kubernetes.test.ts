/**
 * The kubernetes provider through @kubernetes/client-node against a local
 * stand-in of the Kubernetes API (kube-standin.ts) that validates every
 * manifest against the official schemas and runs each Pod as a Docker
 * container. No real cluster is involved (see the README).
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { stage } from "../saga/plan-stages.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { startPlane, startRun, waitFor } from "./docker-plane.js";
import { KubeStandIn } from "./kube-standin.js";
import { agentImageOf } from "../../src/providers/agent-image.js";
import { hostAgentRuntime } from "../../src/providers/agent-runtime.js";
import { ensureAgentImageLoaded } from "../../src/providers/docker-agent-volume.js";
import { service } from "./docker-services-helpers.js";

let api: KubeStandIn;
let agentImage: string;
// Each test starts a control plane on a fresh embedded Postgres (up to ~15 s on a busy machine) before any container.
vi.setConfig({ testTimeout: 120_000 });
let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

const kube = { namespace: "ci" };
const plane = (extra: Parameters<typeof startPlane>[0] = {}) =>
  startPlane({ providers: ["kubernetes"], ...extra, settings: { kubernetes: kube, ...extra.settings } });

// The stand-in runs Pods as Docker containers: skipped only outside CI when no Docker engine answers (the reason is in the name).
describe.skipIf(dockerUnavailable !== null)(`kubernetes provider against the API stand-in${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  beforeAll(async () => {
    await ensureTestImage(new Docker());
    // The stand-in's "registry" is the local engine: the cluster can pull this server's agent image once it is loaded there.
    agentImage = await ensureAgentImageLoaded(new Docker(), await agentImageOf(await hostAgentRuntime()));
    api = new KubeStandIn();
    await api.start();
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-kube-")), "config");
    await api.writeKubeconfig(file);
    process.env.KUBECONFIG = file;
  });
  afterAll(async () => {
    await api.stop();
  });

  const podsGone = () => waitFor("the pods and secrets to go", () => api.pods.size === 0 && api.secrets.size === 0, 15_000);

  it("runs a stage in a Pod whose manifests pass the official schemas; the Pod and its Secret go afterwards", async () => {
    control = await plane();
    const { id } = await startRun(control, [
      stage("pod", { provider: "kubernetes", image: TEST_IMAGE, timeoutSeconds: 300, commands: ["test -f /.dockerenv", "cat hello.txt"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.stages.get("pod")?.reason ?? null).toBeNull();
    expect(final.conclusion).toBe("success");
    expect((await readStageLog(control.db, { runId: id, stageId: "pod" })).chunks.map((c) => c.data).join("")).toContain("hello from the checkout\n");
    expect(api.refused).toEqual([]);
    const pod = api.received.find((m): m is V1Pod => m.kind === "Pod")!;
    const secret = api.received.find((m): m is V1Secret => m.kind === "Secret")!;
    expect(pod.spec).toMatchObject({ restartPolicy: "Never", activeDeadlineSeconds: 360, automountServiceAccountToken: false });
    // No node's file system: the agent comes from the agent image through an init container and an emptyDir.
    expect(JSON.stringify(pod)).not.toContain("hostPath");
    expect(pod.spec?.initContainers).toEqual([expect.objectContaining({ name: "hodei-agent", image: agentImage, args: ["--copy-runtime-to", "/hodei-agent"] })]);
    expect(pod.spec?.containers[0]?.command).toEqual(["/opt/hodei/agent"]);
    expect(pod.metadata?.annotations).toMatchObject({ "hodei.run": id, "hodei.stage": "pod", "hodei.attempt": "1" });
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Pod", name: pod.metadata?.name });
    expect(Object.keys(secret.stringData ?? {})).toContain("HODEI_AGENT_TOKEN");
    // The token is in the Secret only, never in the Pod's manifest.
    expect(JSON.stringify(pod)).not.toContain(secret.stringData?.HODEI_AGENT_TOKEN ?? "no token");
    await podsGone();
  });

  it("runs services as sidecars held ready by startup probes, reached by name through hostAliases; all go afterwards", async () => {
    control = await plane();
    // The stand-in's Pods share the host network (Postgres may be on 5432 there): another port.
    const db = service("db", { command: ["nc", "-ll", "-p", "15432", "-e", "echo", "ready"], ports: [15432], ready: { port: 15432 }, env: { ROLE: "db" } });
    const web = service("web", { command: ["sh", "-c", "echo web is starting; mkdir -p /srv && echo hello from web > /srv/index.html && exec httpd -f -p 18080 -h /srv"], ready: { command: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:18080/"] } });
    const { id } = await startRun(control, [
      stage("pod", { provider: "kubernetes", image: TEST_IMAGE, timeoutSeconds: 300, services: [db, web], commands: ["nc db 15432 </dev/null | grep -x ready", "wget -q -O - http://web:18080/"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    const log = (await readStageLog(control.db, { runId: id, stageId: "pod" })).chunks.map((c) => c.data).join("");
    expect(final.stages.get("pod")?.reason ?? null, log).toBeNull();
    expect(final.conclusion).toBe("success");
    expect(log).toContain("\nready\n");
    expect(log).toContain("\nhello from web\n");
    // Validated against the official schemas by the stand-in: nothing refused.
    expect(api.refused).toEqual([]);
    const pod = api.received.find((m): m is V1Pod => m.kind === "Pod" && m.metadata?.annotations?.["hodei.run"] === id)!;
    expect(pod.spec?.hostAliases).toEqual([{ ip: "127.0.0.1", hostnames: ["db", "web"] }]);
    // The stage's 300 s, the provisioning timeout's 60 s, and both services' 30 s of readiness.
    expect(pod.spec?.activeDeadlineSeconds).toBe(420);
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(["hodei-agent", "db", "web"]);
    expect(pod.spec?.initContainers?.[1]).toEqual({
      name: "db",
      image: TEST_IMAGE,
      restartPolicy: "Always",
      args: ["nc", "-ll", "-p", "15432", "-e", "echo", "ready"],
      env: [{ name: "ROLE", value: "db" }],
      ports: [{ containerPort: 15432, protocol: "TCP" }],
      startupProbe: { tcpSocket: { port: 15432 }, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 30 },
    });
    expect(pod.spec?.initContainers?.[2]?.startupProbe?.exec?.command).toEqual(["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:18080/"]);
    await podsGone();
    // The services' output, appended to the stage's log when the attempt ended.
    const full = (await readStageLog(control.db, { runId: id, stageId: "pod" })).chunks.map((c) => c.data).join("");
    expect(full.slice(log.length)).toBe("\n--- service db: its output (last 200 lines at most) ---\n" + "\n--- service web: its output (last 200 lines at most) ---\nweb is starting\n");
    const left = await new Docker().listContainers({ all: true, filters: { label: [`hodei-standin.pod=${pod.metadata!.name!}`] } });
    expect(left).toEqual([]);
  });

  it("fails the attempt naming a service whose startup probe never passes", async () => {
    control = await plane();
    const { id } = await startRun(control, [
      stage("pod", { provider: "kubernetes", image: TEST_IMAGE, services: [service("queue", { command: ["sleep", "600"], ready: { command: ["false"] }, readyTimeoutSeconds: 2 })], commands: ["true"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("failure");
    expect(final.stages.get("pod")?.reason).toMatch(/^service "queue" \(pod hodei-[0-9a-f]+-[0-9a-f]+\) did not get ready: its startup probe failed or it exited, and it was restarted after it ended with exit code 137 \(Error\)$/);
    await podsGone();
  });

  it("ends the attempt when the image cannot be pulled, with the kubelet's reason", async () => {
    control = await plane();
    const { id, events } = await startRun(control, [stage("pull", { provider: "kubernetes", image: "hodei-test/absent:1", commands: ["true"] })]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("failure");
    const reason = /^pod hodei-[0-9a-f]+-[0-9a-f]+: image "hodei-test\/absent:1" cannot be pulled \((ErrImagePull|ImagePullBackOff)\): pull access denied for hodei-test\/absent:1$/;
    expect(final.stages.get("pull")?.reason).toMatch(reason);
    // Ended as lost by the provisioner, which the history names.
    expect(events.filter((e) => e.type === "attempt.leased").map((e) => e.type === "attempt.leased" && e.data.agentId)).toEqual(["provisioner:kubernetes"]);
    const ended = events.find((e) => e.type === "attempt.finished");
    expect(ended?.type === "attempt.finished" && ended.data).toMatchObject({ attempt: 1, outcome: "lost", reason: expect.stringMatching(reason) });
    await podsGone();
  });

  it("ends an evicted Pod's attempt as lost with the reason, and retries it in a new Pod", async () => {
    control = await plane();
    const { id, events } = await startRun(control, [
      stage("evicted", { provider: "kubernetes", image: TEST_IMAGE, retries: 1, commands: ['if [ "$HODEI_ATTEMPT" = 1 ]; then sleep 120; fi; echo again'] }),
    ]);
    await waitFor("attempt 1 to run", () => events.some((e) => e.type === "attempt.started" && e.data.attempt === 1));
    const [name] = [...api.pods.keys()];
    await api.evict(name!);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    const lost = events.find((e) => e.type === "attempt.finished" && e.data.attempt === 1);
    expect(lost?.type === "attempt.finished" && lost.data).toMatchObject({ outcome: "lost", reason: `pod ${name} failed (Evicted): The node was low on resource: memory.` });
    await podsGone();
  });

  it("ends the attempt within the provisioning timeout when the agent never connects", async () => {
    // Nothing listens on port 1: the agent in the pod keeps failing to dial.
    control = await plane({ settings: { agentServer: "127.0.0.1:1", provisionTimeoutMs: 3000 } });
    const started = Date.now();
    const { id, events } = await startRun(control, [stage("silent", { provider: "kubernetes", image: TEST_IMAGE, commands: ["true"] })]);
    const final = await control.engine.waitForRun(id);
    // 3 s, plus slack for a loaded machine; the pod's deadline (the stage's 60 s + 3 s) would be far later.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(final.conclusion).toBe("failure");
    const pod = api.received.find((m): m is V1Pod => m.kind === "Pod" && m.metadata?.annotations?.["hodei.run"] === id)?.metadata?.name;
    expect(final.stages.get("silent")?.reason).toBe(`the agent did not connect within 3 s of provisioning (pod ${pod})`);
    expect(events.some((e) => e.type === "attempt.started")).toBe(false);
    await podsGone();
  });

  it("ends the attempt as lost when the worker's container dies mid-stage, with the pod's exit code", async () => {
    control = await plane();
    const { id, events } = await startRun(control, [stage("dies", { provider: "kubernetes", image: TEST_IMAGE, commands: ["echo running; sleep 120"] })]);
    await waitFor("the attempt to run", () => events.some((e) => e.type === "attempt.started"));
    const [rec] = [...api.pods.values()].filter((r) => r.pod.metadata?.annotations?.["hodei.run"] === id);
    await new Docker().getContainer(rec!.container!).kill();
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("failure");
    const reason = `pod ${rec!.pod.metadata!.name} failed with exit code 137`;
    expect(final.stages.get("dies")?.reason).toBe(reason);
    const ended = events.find((e) => e.type === "attempt.finished");
    expect(ended?.type === "attempt.finished" && ended.data).toMatchObject({ outcome: "lost", reason });
    await podsGone();
  });

  it("runs a pipeline with one stage on each provider: local, docker and kubernetes", async () => {
    control = await plane({ providers: ["docker", "kubernetes"], localAgents: 1 });
    const { id } = await startRun(control, [
      // This host's Node binary is there on the host and in neither container (the test image has none).
      stage("local", { commands: [`test -x ${process.execPath}`, "echo on the host"] }),
      stage("docker", { provider: "docker", image: TEST_IMAGE, needs: ["local"], commands: [`test ! -e ${process.execPath}`, "test -f /.dockerenv", "cat hello.txt"] }),
      stage("kube", { provider: "kubernetes", image: TEST_IMAGE, needs: ["local"], commands: [`test ! -e ${process.execPath}`, "test -f /.dockerenv", "cat hello.txt"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect([...final.stages.values()].map((s) => `${s.plan.id}:${s.conclusion}:${s.reason}`)).toEqual(["local:success:null", "docker:success:null", "kube:success:null"]);
    await podsGone();
    await waitFor("the docker containers to go", async () => (await hodeiContainers(new Docker(), id)).length === 0, 15_000);
  });
});
