/**
 * What a container needs to run the agent without anything from its image
 * but `sh`: the agent bundle (dist/agent-bundle.mjs) and this host's Node
 * binary with the shared libraries `ldd` lists, all mounted read-only under
 * /opt/hodei. A dynamically linked Node is started through the host's own
 * dynamic loader with `--library-path`, so it runs whatever libc the image
 * has (or none, as in a static busybox image). Stage commands run with the
 * image's own `sh` and tools.
 */
import { execFile } from "node:child_process";
import { access, realpath } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NODE_FLAGS } from "../server/node-flags.js";

export const RUNTIME_DIR = "/opt/hodei";
const LIB_DIR = `${RUNTIME_DIR}/lib`;

export const defaultBundlePath = fileURLToPath(new URL("../../dist/agent-bundle.mjs", import.meta.url));

export interface AgentRuntime {
  /** Host files to mount read-only: host path -> path in the container. */
  mounts: { host: string; container: string }[];
  /** The command that starts the agent; the agent's own arguments follow. */
  entrypoint: string[];
}

export class AgentBundleMissingError extends Error {
  readonly retryable = false;
  constructor(readonly bundlePath: string) {
    super(`the agent bundle ${bundlePath} does not exist; run \`npm run build\``);
    this.name = "AgentBundleMissingError";
  }
}

export async function hostAgentRuntime(bundlePath = defaultBundlePath, nodePath = process.execPath): Promise<AgentRuntime> {
  try {
    await access(bundlePath);
  } catch {
    throw new AgentBundleMissingError(bundlePath);
  }
  const node = await realpath(nodePath);
  const mounts = [
    { host: bundlePath, container: `${RUNTIME_DIR}/agent-bundle.mjs` },
    { host: node, container: `${RUNTIME_DIR}/node` },
  ];
  const agent = [`${RUNTIME_DIR}/node`, ...NODE_FLAGS, `${RUNTIME_DIR}/agent-bundle.mjs`];
  const libs = await sharedLibraries(node);
  if (!libs) return { mounts, entrypoint: agent };
  for (const lib of libs.libraries) mounts.push({ host: await realpath(lib.path), container: `${LIB_DIR}/${lib.name}` });
  const loader = `${LIB_DIR}/${path.basename(libs.loader)}`;
  mounts.push({ host: await realpath(libs.loader), container: loader });
  return { mounts, entrypoint: [loader, "--library-path", LIB_DIR, ...agent] };
}

interface Libraries {
  loader: string;
  libraries: { name: string; path: string }[];
}

/** `ldd` of the binary; null for a static binary or where ldd is missing. */
async function sharedLibraries(binary: string): Promise<Libraries | null> {
  let out: string;
  try {
    out = (await promisify(execFile)("ldd", [binary], { encoding: "utf8" })).stdout;
  } catch {
    return null;
  }
  return parseLdd(out);
}

/** Parses `ldd` output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and the loader's bare path line. */
export function parseLdd(out: string): Libraries | null {
  let loader: string | null = null;
  const libraries: Libraries["libraries"] = [];
  for (const line of out.split("\n")) {
    const mapped = /^\s*(\S+)\s+=>\s+(\/\S+)\s+\(/.exec(line);
    if (mapped?.[1] && mapped[2]) {
      libraries.push({ name: mapped[1], path: mapped[2] });
      continue;
    }
    const bare = /^\s*(\/\S*ld-linux\S*)\s+\(/.exec(line) ?? /^\s*(\/\S*ld-musl\S*)\s+\(/.exec(line);
    if (bare?.[1]) loader = bare[1];
  }
  return loader ? { loader, libraries } : null;
}
