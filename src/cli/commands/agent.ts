/** `hodei agent`: a standalone agent that dials out to a server (SPEC 2, 7). */
import { readFileSync } from "node:fs";
import { Agent, AgentRefusedError } from "../../agent/agent.js";
import { UsageError } from "../usage-error.js";

export interface AgentCommandOptions {
  server?: string;
  token?: string;
  /** A file with the server's CA certificate; else HODEI_AGENT_CA (the PEM). */
  ca?: string;
  label: string[];
  capacity: string;
  exitWithParent?: boolean;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

export async function agentCommand(options: AgentCommandOptions): Promise<number> {
  if (!options.server) throw new UsageError("--server HOST:PORT is required");
  // Prefer the environment: a token in argv is visible to every user of the host.
  const token = options.token ?? process.env.HODEI_AGENT_TOKEN;
  if (!token) throw new UsageError("a registration token is required: --token or HODEI_AGENT_TOKEN");
  const caPem = options.ca ? readFileSync(options.ca, "utf8") : process.env.HODEI_AGENT_CA;
  if (!caPem?.includes("BEGIN CERTIFICATE")) {
    throw new UsageError("the server's CA certificate is required: --ca FILE (the server's HODEI_DATA_DIR/pki/ca.crt) or HODEI_AGENT_CA");
  }
  // Credentials are read once; the stages' environment is built from scratch, but keep the agent's own lean too.
  delete process.env.HODEI_AGENT_TOKEN;
  const parentPid = process.env.HODEI_AGENT_PARENT_PID;
  delete process.env.HODEI_AGENT_PARENT_PID;
  const capacity = Number(options.capacity);
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64) throw new UsageError("--capacity must be an integer from 1 to 64");
  const labels: Record<string, string> = {};
  for (const l of options.label) {
    // `--label gpu` is `gpu=true`: stages with `runs-on: gpu` ask only that the key is there.
    const [k, ...v] = l.split("=");
    if (!k || (v.length > 0 && v.join("=") === "")) throw new UsageError(`--label expects KEY or KEY=VALUE, got ${JSON.stringify(l)}`);
    labels[k] = v.length === 0 ? "true" : v.join("=");
  }
  const server = options.server.replace(/^grpc:\/\//, "");
  const agent = new Agent({ server, token, caPem, labels, capacity, log: (m) => options.stderr.write(`hodei agent: ${m}\n`) });
  options.signal.addEventListener("abort", () => void agent.stop(), { once: true });
  // A local agent whose server died must not die of a broken pipe while it finishes its work.
  process.stderr.on("error", () => undefined);
  process.stdout.on("error", () => undefined);
  if (options.exitWithParent) {
    // The server names itself: one that died before this process looked would
    // otherwise leave it a child of init from the start, with nothing to notice.
    const parent = Number(parentPid) || process.ppid;
    const check = () => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      options.stderr.write("hodei agent: the server that started this agent is gone; finishing running stages, then exiting\n");
      void agent.drain();
    };
    const watch = setInterval(check, 500);
    watch.unref();
    check();
  }
  try {
    await agent.run();
    return 0;
  } catch (error) {
    if (error instanceof AgentRefusedError) {
      options.stderr.write(`hodei agent: the server refused this agent: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    // Nothing of a stopped agent may linger: its stages are killed, and a gRPC
    // handle that does not close in time does not keep the process alive.
    await agent.stop();
    setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  }
}
