/**
 * The agent as a container image: the agent bundle, a Node binary, and the
 * shared libraries and dynamic loader that binary needs, all under
 * /opt/hodei, on no base at all (like a Dockerfile `FROM scratch`). The
 * image declares /opt/hodei a volume, so a container created from it gives
 * the docker provider a volume holding the agent, and its entrypoint is the
 * agent, so a Kubernetes init container can copy it into an `emptyDir` with
 * the image's own Node. Neither provider then mounts anything from the
 * server's host.
 *
 * It is written as a `docker save` archive (manifest.json, the image's
 * config, one layer), which `docker load`, `podman load` and
 * `skopeo copy docker-archive:…` read: the docker provider loads it into
 * its engine itself when the engine lacks it, and `npm run build:agent-image`
 * writes it for publishing to a registry. The tag is a digest of what is in
 * it, so a new bundle or Node gives a new tag.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import * as tar from "tar";
import { RUNTIME_DIR, type AgentRuntime } from "./agent-runtime.js";

export const AGENT_IMAGE_REPOSITORY = "hodei-agent";

export interface AgentImage {
  /** `hodei-agent:<12 hex digits>`, from the contents. */
  tag: string;
  runtime: AgentRuntime;
}

/** What `runtime` puts in the image, and the tag that names exactly that. */
export async function agentImageOf(runtime: AgentRuntime): Promise<AgentImage> {
  const hash = createHash("sha256");
  hash.update(launcherScript(runtime));
  for (const m of [...runtime.mounts].sort((a, b) => a.container.localeCompare(b.container))) {
    hash.update(`\0${m.container}\0`);
    for await (const chunk of createReadStream(m.host)) hash.update(chunk as Buffer);
  }
  return { tag: `${AGENT_IMAGE_REPOSITORY}:${hash.digest("hex").slice(0, 12)}`, runtime };
}

/**
 * In the image, beside the agent: `/opt/hodei/agent`, a shell script that
 * starts it. Stage images have `sh` anyway (commands run with it), so the
 * script is the entrypoint of a stage's container whatever the loader's name
 * on the architecture the image was built for.
 */
export const AGENT_LAUNCHER = `${RUNTIME_DIR}/agent`;

/** The agent image's arguments that make it copy /opt/hodei to `target` and exit (a Kubernetes init container). */
export function copyRuntimeArgs(target: string): string[] {
  return ["--copy-runtime-to", target];
}

function launcherScript(runtime: AgentRuntime): string {
  const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;
  return `#!/bin/sh\nexec ${runtime.entrypoint.map(quote).join(" ")} "$@"\n`;
}

/**
 * Writes the image as a `docker save` archive to `out` (a file path), using
 * a scratch directory next to the system's temporary files.
 */
export async function writeAgentImageArchive(image: AgentImage, out: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-agent-image-"));
  try {
    const archiveDir = path.join(dir, "archive");
    await mkdir(archiveDir);
    const layerDigest = await writeLayer(image.runtime, dir, path.join(archiveDir, "layer.tar"));
    const config = {
      architecture: goArchitecture(process.arch),
      os: "linux",
      created: new Date(0).toISOString(),
      config: {
        Entrypoint: image.runtime.entrypoint,
        Volumes: { [RUNTIME_DIR]: {} },
        Labels: { "org.opencontainers.image.title": "hodei agent", "org.opencontainers.image.description": "the Hodei agent, its Node and libraries under /opt/hodei" },
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created: new Date(0).toISOString(), created_by: "hodei agent-image.ts" }],
    };
    const configJson = JSON.stringify(config);
    const configName = `${createHash("sha256").update(configJson).digest("hex")}.json`;
    await writeFile(path.join(archiveDir, configName), configJson);
    await writeFile(path.join(archiveDir, "manifest.json"), JSON.stringify([{ Config: configName, RepoTags: [image.tag], Layers: ["layer.tar"] }]));
    const [repository, tag] = image.tag.split(":");
    await writeFile(path.join(archiveDir, "repositories"), JSON.stringify({ [repository!]: { [tag!]: layerDigest } }));
    await tar.c({ cwd: archiveDir, file: out, portable: true, noMtime: true }, ["manifest.json", "repositories", configName, "layer.tar"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The archive as a stream (for the Docker engine's load call), written to a temporary file first. */
export async function agentImageArchiveStream(image: AgentImage): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-agent-archive-"));
  const file = path.join(dir, "agent-image.tar");
  await writeAgentImageArchive(image, file);
  return { stream: createReadStream(file), done: () => rm(dir, { recursive: true, force: true }) };
}

/** One layer: /opt/hodei with every runtime file, symlinks in a scratch tree followed into the tar. Returns its sha256. */
async function writeLayer(runtime: AgentRuntime, scratch: string, out: string): Promise<string> {
  const root = path.join(scratch, "rootfs");
  for (const m of runtime.mounts) {
    const at = path.join(root, m.container);
    await mkdir(path.dirname(at), { recursive: true });
    await symlink(m.host, at);
  }
  await writeFile(path.join(root, AGENT_LAUNCHER), launcherScript(runtime), { mode: 0o755 });
  const top = RUNTIME_DIR.split("/").filter(Boolean)[0]!;
  await tar.c({ cwd: root, file: out, follow: true, portable: true, noMtime: true }, [top]);
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(out)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function goArchitecture(arch: string): string {
  const names: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return names[arch] ?? arch;
}
