/**
 * The `hodei` command (SPEC 2). Each subcommand lives in commands/; this file
 * only parses arguments and maps errors to exit codes: 0 success, 1 failure,
 * 2 usage or configuration, 69 the store cannot be used at start (not
 * reachable within HODEI_STORE_WAIT_MS, refused us, or its data directory is
 * full or in use); bin/hodei.js exits 70 on anything else (a bug: with its
 * stack). Commands are imported when chosen, so `hodei agent` starts
 * without loading the server's modules.
 */
import { Command, CommanderError, Option } from "commander";
import { UsageError } from "./usage-error.js";

/** The store cannot be used at start (EX_UNAVAILABLE of sysexits.h). */
export const EXIT_STORE_UNAVAILABLE = 69;

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const stdout = process.stdout;
  const stderr = process.stderr;
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const program = new Command("hodei")
    .description("Git-driven pipeline runner: durable runs, agents over gRPC, GitHub and Gitea checks")
    .exitOverride()
    .configureOutput({ writeErr: (s) => stderr.write(s), writeOut: (s) => stdout.write(s) })
    .showHelpAfterError();

  program
    .command("validate")
    .description("check a pipeline file; errors as FILE:LINE:COL: message")
    .argument("[path]", "a repository directory or a pipeline file", ".")
    .option("--json", "print {valid, errors} as JSON on stdout")
    .action(async (path: string, o: { json?: boolean }) => {
      const { validateCommand } = await import("./commands/validate.js");
      exitCode = await validateCommand({ path, json: o.json ?? false, stdout, stderr });
    });

  program
    .command("plan")
    .description("print the expanded DAG of stages for a trigger context")
    .argument("[path]", "a repository directory or a pipeline file", ".")
    .addOption(new Option("--event <event>", "trigger event").choices(["push", "pull_request", "manual", "schedule"]).default("push"))
    .option("--branch <branch>", "branch (for pull_request: the base branch); default: current branch or main")
    .option("--tag <tag>", "a tag push")
    .option("--changed <files>", "comma-separated changed files; default: all files")
    .option("--input <name=value>", "an input of on.manual.inputs (with --event manual); repeatable", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--json", "print the plan as JSON")
    .action(async (path: string, o: { event: string; branch?: string; tag?: string; changed?: string; input: string[]; json?: boolean }) => {
      const { planCommand } = await import("./commands/plan.js");
      exitCode = await planCommand({ path, json: o.json ?? false, event: o.event, branch: o.branch, tag: o.tag, changed: o.changed, inputs: o.input, stdout, stderr });
    });

  program
    .command("run")
    .description("run the pipeline of a local checkout through the engine, with local agents")
    .argument("[path]", "the repository directory", ".")
    .addOption(new Option("--event <event>", "trigger event").choices(["push", "pull_request", "manual", "schedule"]).default("push"))
    .option("--branch <branch>", "branch; default: the checkout's current branch, or main")
    .option("--agents <n>", "local agent processes (default: 2 to 4, by cores)")
    .option("--data-dir <dir>", "embedded store directory (default: HODEI_DATA_DIR or ./.hodei-data)")
    .action(async (path: string, o: { event: string; branch?: string; agents?: string; dataDir?: string }) => {
      const { runCommand } = await import("./commands/run.js");
      exitCode = await runCommand({
        path,
        event: o.event,
        branch: o.branch,
        agents: o.agents,
        dataDir: o.dataDir ?? (process.env.HODEI_DATA_DIR || "./.hodei-data"),
        databaseUrl: process.env.DATABASE_URL || undefined,
        stdout,
        stderr,
        color: stdout.isTTY && !process.env.NO_COLOR,
        signal: interrupt.signal,
      });
    });

  program
    .command("server")
    .description("the control plane: webhooks, API, dashboard, agent listener (configured by HODEI_* variables)")
    .action(async () => {
      const { serverCommand } = await import("./commands/server.js");
      exitCode = await serverCommand({ stdout, signal: interrupt.signal });
    });

  program
    .command("agent")
    .description("a standalone agent that dials out to a server")
    .option("--server <host:port>", "the server's gRPC address")
    .option("--token <token>", "registration token (better: HODEI_AGENT_TOKEN)")
    .option("--ca <file>", "the server's CA certificate, HODEI_DATA_DIR/pki/ca.crt on the server (or HODEI_AGENT_CA: the PEM itself)")
    .option("--label <key=value>", "a label, e.g. provider=local (repeatable)", (v: string, all: string[]) => [...all, v], [])
    .option("--capacity <n>", "stages run at once", "1")
    .option("--exit-with-parent", "when the process that started this agent dies, finish running stages and exit")
    .action(async (o: { server?: string; token?: string; ca?: string; label: string[]; capacity: string; exitWithParent?: boolean }) => {
      const { agentCommand } = await import("./commands/agent.js");
      exitCode = await agentCommand({ ...o, stderr, signal: interrupt.signal });
    });

  // Operator commands: talk to a running server's API (SPEC 2).
  const DEFAULT_SERVER = "http://127.0.0.1:8080";
  const serverOption = () => new Option("--server <url>", "the server's HTTP address").env("HODEI_SERVER").default(DEFAULT_SERVER);
  /** A person's own token (HODEI_TOKEN, from POST /api/tokens) acts with their permissions; the operator's admin token with all. */
  const token = () => process.env.HODEI_TOKEN || adminToken();
  /** Registration tokens are the operator's alone: a personal token would only be refused. */
  const adminToken = () => process.env.HODEI_ADMIN_TOKEN || undefined;

  program
    .command("runs")
    .description("list a server's runs, newest first")
    .addOption(serverOption())
    .option("--repo <owner/name>", "only this repository's runs")
    .option("--limit <n>", "how many", "20")
    .option("--json", "print the API's JSON")
    .action(async (o: { server: string; repo?: string; limit: string; json?: boolean }) => {
      const { runsCommand } = await import("./commands/runs.js");
      exitCode = await runsCommand({ ...o, token: token(), json: o.json ?? false, stdout });
    });

  program
    .command("logs")
    .description("print a stage's log (or every stage's); --follow streams it until the stage ends")
    .argument("<run>", "run id")
    .argument("[stage]", "stage id, e.g. build or test[node=20]")
    .addOption(serverOption())
    .option("-f, --follow", "stream until the stage ends")
    .action(async (run: string, stage: string | undefined, o: { server: string; follow?: boolean }) => {
      const { logsCommand } = await import("./commands/logs.js");
      exitCode = await logsCommand({ server: o.server, token: token(), run, stage, follow: o.follow ?? false, stdout, stderr });
    });

  program
    .command("rerun")
    .description("re-run a stage (and its dependents), the failed stages (--failed) or the whole run; token from HODEI_TOKEN or HODEI_ADMIN_TOKEN")
    .argument("<run>", "run id")
    .argument("[stage]", "stage id or matrix name")
    .addOption(serverOption())
    .option("--failed", "only the failed, timed-out and cancelled stages")
    .option("--json", "print the API's JSON")
    .action(async (run: string, stage: string | undefined, o: { server: string; failed?: boolean; json?: boolean }) => {
      const { rerunCommand } = await import("./commands/rerun.js");
      exitCode = await rerunCommand({ server: o.server, token: token(), run, stage, failed: o.failed ?? false, json: o.json ?? false, stdout });
    });

  program
    .command("trigger")
    .description("start a manual run of a repository's ref on a server, with its on.manual.inputs; token from HODEI_ADMIN_TOKEN")
    .argument("<repo>", "clone URL")
    .argument("<ref>", "branch (main) or full ref (refs/tags/v1)")
    .addOption(serverOption())
    .option("--sha <sha>", "an exact commit instead of the ref's head")
    .option("--input <name=value>", "an input of on.manual.inputs; repeatable", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--json", "print the API's JSON")
    .action(async (repo: string, ref: string, o: { server: string; sha?: string; input: string[]; json?: boolean }) => {
      const { triggerCommand } = await import("./commands/trigger.js");
      exitCode = await triggerCommand({ server: o.server, token: adminToken(), repo, ref, sha: o.sha, inputs: o.input, json: o.json ?? false, stdout });
    });

  program
    .command("cancel")
    .description("cancel a run; token from HODEI_TOKEN or HODEI_ADMIN_TOKEN")
    .argument("<run>", "run id")
    .addOption(serverOption())
    .option("--json", "print the API's JSON")
    .action(async (run: string, o: { server: string; json?: boolean }) => {
      const { cancelCommand } = await import("./commands/cancel.js");
      exitCode = await cancelCommand({ server: o.server, token: token(), run, json: o.json ?? false, stdout });
    });

  program
    .command("secret")
    .description("repository secrets")
    .command("set")
    .description("store a secret for a repository; the value is read from stdin; token from HODEI_TOKEN or HODEI_ADMIN_TOKEN")
    .argument("<repo>", "owner/name")
    .argument("<name>", "secret name, e.g. NPM_TOKEN")
    .addOption(serverOption())
    .action(async (repo: string, name: string, o: { server: string }) => {
      const { secretSetCommand } = await import("./commands/secret.js");
      exitCode = await secretSetCommand({ server: o.server, token: token(), repo, name, stdin: process.stdin, stdout });
    });

  const agentToken = program.command("agent-token").description("registration tokens for standalone agents; token from HODEI_ADMIN_TOKEN");
  agentToken
    .command("create")
    .description("create a registration token; it is printed once")
    .option("--description <text>", "what it is for, e.g. the agent host")
    .option("--expires-in <duration>", "lifetime, e.g. 12h, 30d, 2w (default: never expires)")
    .addOption(serverOption())
    .option("--json", "print the API's JSON")
    .action(async (o: { server: string; description?: string; expiresIn?: string; json?: boolean }) => {
      const { agentTokenCreateCommand } = await import("./commands/agent-token.js");
      exitCode = await agentTokenCreateCommand({ ...o, token: adminToken(), json: o.json ?? false, stdout });
    });
  agentToken
    .command("list")
    .description("list registration tokens (never the tokens themselves)")
    .addOption(serverOption())
    .option("--json", "print the API's JSON")
    .action(async (o: { server: string; json?: boolean }) => {
      const { agentTokenListCommand } = await import("./commands/agent-token.js");
      exitCode = await agentTokenListCommand({ server: o.server, token: adminToken(), json: o.json ?? false, stdout });
    });
  agentToken
    .command("revoke")
    .description("revoke a registration token: agents can no longer register with it")
    .argument("<id>", "token id, from create or list")
    .addOption(serverOption())
    .option("--json", "print JSON")
    .action(async (id: string, o: { server: string; json?: boolean }) => {
      const { agentTokenRevokeCommand } = await import("./commands/agent-token.js");
      exitCode = await agentTokenRevokeCommand({ server: o.server, token: adminToken(), id, json: o.json ?? false, stdout });
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      stderr.write(`hodei: ${error.message}\n`);
      return 2;
    }
    // Imported only now, so a short command does not load them: the same modules its command threw from.
    const [{ ApiError }, { ConfigError }, { DataDirInUseError, StoreStartError }] = await Promise.all([
      import("./api-client.js"),
      import("../server/config.js"),
      import("../store/errors.js"),
    ]);
    if (error instanceof ApiError) {
      stderr.write(`hodei: ${error.message}\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      stderr.write(`hodei: configuration error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof StoreStartError || error instanceof DataDirInUseError) {
      stderr.write(`hodei: ${error.message}\n`);
      return EXIT_STORE_UNAVAILABLE;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
