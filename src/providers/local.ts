/**
 * `local`: agent processes on the server's host (SPEC 7). Each is a separate
 * Node process running `hodei agent`, the same code a standalone agent runs,
 * so the local path exercises the real protocol. An agent that dies is
 * replaced; `stop` ends them all, process groups included.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AgentEndpoint, Provider } from "./provider.js";
import { NODE_FLAGS } from "../server/node-flags.js";

const hodeiBin = fileURLToPath(new URL("../../bin/hodei.js", import.meta.url));

export interface LocalProviderOptions {
  /** How many agent processes to keep running. */
  agents: number;
  /** Stages each agent runs at once. */
  capacity?: number;
  /** This control-plane process's instance id, given to its agents as a label. */
  instance: string;
  /** The server's CA (PEM), which agents check the server against (HODEI_AGENT_CA). */
  caPem?: string;
  /** A fresh credential per agent process (a one-time bootstrap token); default: the endpoint's token. */
  mintToken?: () => Promise<string>;
  onOutput?: (agentIndex: number, text: string) => void;
  onError?: (message: string) => void;
}

export class LocalProvider implements Provider {
  readonly name = "local" as const;
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;
  private restarts = 0;

  constructor(private readonly options: LocalProviderOptions) {}

  start(endpoint: AgentEndpoint): Promise<void> {
    for (let i = 0; i < this.options.agents; i++) this.spawnAgent(i, endpoint);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
        }),
    );
    await Promise.all(exits);
    this.children.clear();
  }

  private spawnAgent(index: number, endpoint: AgentEndpoint): void {
    const mint = this.options.mintToken ?? (() => Promise.resolve(endpoint.token));
    mint().then(
      (token) => {
        if (!this.stopping) this.spawnWithToken(index, endpoint, token);
      },
      (error: unknown) => this.options.onError?.(`could not mint a token for local agent ${index}: ${String(error)}`),
    );
  }

  private spawnWithToken(index: number, endpoint: AgentEndpoint, token: string): void {
    const child = spawn(
      process.execPath,
      [
        ...NODE_FLAGS,
        hodeiBin,
        "agent",
        "--server",
        endpoint.server,
        "--label",
        "provider=local",
        "--label",
        `hodei.instance=${this.options.instance}`,
        "--capacity",
        String(this.options.capacity ?? 1),
        // If this process dies, the agent finishes and reports what it runs, then exits.
        "--exit-with-parent",
      ],
      {
        // The token travels in the environment of this one child, never in argv.
        env: {
          ...agentEnvironment(),
          HODEI_AGENT_TOKEN: token,
          // For --exit-with-parent: the server, even if it is gone before the agent looks.
          HODEI_AGENT_PARENT_PID: String(process.pid),
          ...(this.options.caPem ? { HODEI_AGENT_CA: this.options.caPem } : {}),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.children.set(index, child);
    const forward = (b: Buffer) => this.options.onOutput?.(index, b.toString("utf8"));
    child.stdout?.on("data", forward);
    child.stderr?.on("data", forward);
    child.on("exit", (code, signal) => {
      if (this.stopping) return;
      this.options.onError?.(`local agent ${index} exited (${signal ?? code}); starting another`);
      if (++this.restarts > 20) {
        this.options.onError?.("local agents keep dying; not restarting any more");
        return;
      }
      setTimeout(() => this.spawnAgent(index, endpoint), 200 * this.restarts).unref();
    });
  }
}

/** The server's environment minus its secrets: agents must not inherit tokens or keys. */
function agentEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("HODEI_") || k === "DATABASE_URL") continue;
    env[k] = v;
  }
  return env;
}
