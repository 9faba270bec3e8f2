/**
 * The Docker engine the provider tests use, and the image they run: built
 * here with `docker import` from a busybox root file system assembled from
 * the host (no registry is reachable). With CI set, a Docker engine that
 * does not answer fails the tests; elsewhere they are skipped with this
 * reason.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Docker from "dockerode";
import { LABEL_MANAGED } from "../../src/providers/attempt-labels.js";

export const TEST_IMAGE = "hodei-test/busybox:1";
const rootfsScript = fileURLToPath(new URL("../fixtures/images/busybox-rootfs.sh", import.meta.url));

async function engineAnswers(): Promise<string | null> {
  try {
    await new Docker().ping();
    return null;
  } catch (error) {
    return `no Docker engine answers (${error instanceof Error ? error.message : String(error)}); run scripts/start-dockerd.sh as root`;
  }
}

/** Why the docker tests cannot run here; null when they can. In CI they must run: the tests then fail instead of skipping. */
export const dockerUnavailable: string | null = process.env.CI ? null : await engineAnswers();

/** Imports the test image unless the engine has it already. */
export async function ensureTestImage(docker = new Docker()): Promise<string> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return TEST_IMAGE;
  } catch {
    // not there yet: build it
  }
  const dir = await mkdtemp(path.join(tmpdir(), "hodei-rootfs-"));
  try {
    await promisify(execFile)("sh", [rootfsScript, path.join(dir, "rootfs")]);
    await promisify(execFile)("tar", ["-C", path.join(dir, "rootfs"), "-cf", path.join(dir, "rootfs.tar"), "."]);
    const [repo, tag] = TEST_IMAGE.split(":");
    const stream = await docker.importImage(path.join(dir, "rootfs.tar"), { repo, tag });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())));
    return TEST_IMAGE;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Containers with hodei labels, of any state. */
export async function hodeiContainers(docker = new Docker(), runId?: string): Promise<Docker.ContainerInfo[]> {
  const label = [`${LABEL_MANAGED}=true`, ...(runId ? [`hodei.run=${runId}`] : [])];
  return docker.listContainers({ all: true, filters: { label } });
}
