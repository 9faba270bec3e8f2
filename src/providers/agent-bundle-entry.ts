/**
 * The entry point of `dist/agent-bundle.mjs` (scripts/build-agent.mjs): the
 * standalone agent and nothing else, so the bundle that providers mount into
 * containers and pods needs no node_modules and no rest of the CLI.
 * Usage: `node agent-bundle.mjs --server HOST:PORT [--label K=V]... [--capacity N]`,
 * the token in HODEI_AGENT_TOKEN.
 */
import { parseArgs } from "node:util";
import { agentCommand } from "../cli/commands/agent.js";

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    label: { type: "string", multiple: true, default: [] },
    capacity: { type: "string", default: "1" },
  },
});
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
