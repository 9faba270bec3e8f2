/**
 * The entry point of `dist/agent-bundle.mjs` (scripts/build-agent.mjs): the
 * standalone agent and nothing else, so the bundle that providers mount into
 * containers and pods needs no node_modules and no rest of the CLI.
 * Usage: `node agent-bundle.mjs --server HOST:PORT [--label K=V]... [--capacity N]`,
 * the token in HODEI_AGENT_TOKEN.
 * `node agent-bundle.mjs --copy-runtime-to DIR` copies the directory the
 * bundle is in (the agent image's /opt/hodei: bundle, Node, libraries) to DIR
 * and exits: a Kubernetes init container fills the stage's `emptyDir` so.
 * `node agent-bundle.mjs --probe-tcp HOST:PORT --probe-timeout SECONDS` waits
 * until HOST:PORT accepts a connection (tcp-probe.ts): a service's readiness.
 */
import { cpSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { agentCommand } from "../cli/commands/agent.js";
import { probeTcp } from "./tcp-probe.js";

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    label: { type: "string", multiple: true, default: [] },
    capacity: { type: "string", default: "1" },
    "copy-runtime-to": { type: "string" },
    "probe-tcp": { type: "string" },
    "probe-timeout": { type: "string", default: "60" },
  },
});
const copyTo = values["copy-runtime-to"];
if (copyTo !== undefined) {
  cpSync(path.dirname(fileURLToPath(import.meta.url)), copyTo, { recursive: true });
  process.exit(0);
}
const probe = values["probe-tcp"];
if (probe !== undefined) {
  void probeTcp(probe, Number(values["probe-timeout"]) * 1000).then((code) => process.exit(code));
} else {
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
  agentCommand({ server: values.server, label: values.label, capacity: values.capacity, stderr: process.stderr, signal: stop.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exitCode = 70;
    },
  );
}
