/**
 * The agent image as written (a `docker save` archive): its config runs the
 * agent and declares /opt/hodei a volume, its one layer holds the runtime's
 * files and the launcher script, and its tag follows the contents. The real
 * engine loads and runs it in docker.test.ts and kubernetes.test.ts.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { AGENT_LAUNCHER, agentImageOf, writeAgentImageArchive } from "../../src/providers/agent-image.js";
import type { AgentRuntime } from "../../src/providers/agent-runtime.js";

async function fakeRuntime(dir: string, bundle = "console.log('agent')"): Promise<AgentRuntime> {
  await writeFile(path.join(dir, "node"), "#!fake node\n", { mode: 0o755 });
  await writeFile(path.join(dir, "bundle.mjs"), bundle);
  return {
    mounts: [
      { host: path.join(dir, "node"), container: "/opt/hodei/node" },
      { host: path.join(dir, "bundle.mjs"), container: "/opt/hodei/agent-bundle.mjs" },
    ],
    entrypoint: ["/opt/hodei/node", "--max-semi-space-size=4", "/opt/hodei/agent-bundle.mjs"],
  };
}

async function extract(archive: string): Promise<string> {
  const out = await mkdtemp(path.join(os.tmpdir(), "hodei-image-x-"));
  await tar.x({ file: archive, cwd: out });
  return out;
}

describe("agent image", () => {
  it("is a docker-save archive whose config starts the agent and whose layer holds it under /opt/hodei with a launcher", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-image-"));
    const image = await agentImageOf(await fakeRuntime(dir));
    expect(image.tag).toMatch(/^hodei-agent:[0-9a-f]{12}$/);
    const archive = path.join(dir, "image.tar");
    await writeAgentImageArchive(image, archive);
    const out = await extract(archive);
    const [manifest] = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8")) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest?.RepoTags).toEqual([image.tag]);
    const config = JSON.parse(await readFile(path.join(out, manifest!.Config), "utf8")) as { os: string; config: { Entrypoint: string[]; Volumes: object }; rootfs: { diff_ids: string[] } };
    expect(config.os).toBe("linux");
    expect(config.config.Entrypoint).toEqual(["/opt/hodei/node", "--max-semi-space-size=4", "/opt/hodei/agent-bundle.mjs"]);
    expect(config.config.Volumes).toEqual({ "/opt/hodei": {} });
    const layer = await extract(path.join(out, manifest!.Layers[0]!));
    expect(await readFile(path.join(layer, "opt/hodei/agent-bundle.mjs"), "utf8")).toBe("console.log('agent')");
    const launcher = path.join(layer, AGENT_LAUNCHER);
    expect(await readFile(launcher, "utf8")).toBe(`#!/bin/sh\nexec '/opt/hodei/node' '--max-semi-space-size=4' '/opt/hodei/agent-bundle.mjs' "$@"\n`);
    const entries: { path: string; mode: number }[] = [];
    await tar.t({ file: path.join(out, manifest!.Layers[0]!), onReadEntry: (e) => entries.push({ path: e.path, mode: e.mode ?? 0 }) });
    expect(entries.find((e) => e.path === "opt/hodei/agent")?.mode).toBe(0o755);
    expect(entries.find((e) => e.path === "opt/hodei/node")?.mode).toBe(0o755);
  });

  it("gets a new tag when what is in it changes, and the same tag otherwise", async () => {
    const a = await mkdtemp(path.join(os.tmpdir(), "hodei-image-"));
    const b = await mkdtemp(path.join(os.tmpdir(), "hodei-image-"));
    const c = await mkdtemp(path.join(os.tmpdir(), "hodei-image-"));
    const tagA = (await agentImageOf(await fakeRuntime(a))).tag;
    expect((await agentImageOf(await fakeRuntime(b))).tag).toBe(tagA);
    expect((await agentImageOf(await fakeRuntime(c, "console.log('agent 2')"))).tag).not.toBe(tagA);
  });
});
