/**
 * The operator commands' client for a running server's HTTP API (SPEC 3).
 * Errors carry the status and the server's `{ error }` message.
 */
import type { RegistrationTokenInfo } from "../grpc/agent-tokens.js";
import type { RunView } from "../store/run-queries.js";

export interface CreatedAgentToken {
  id: string;
  token: string;
  description: string;
  expiresAt: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface LogEvent {
  event: "attempt" | "log" | "end" | "error";
  data: { attempt?: number; seq?: number; data?: string; conclusion?: string | null; error?: string };
}

/** What a 401 without a token means to the person at the terminal. */
const NO_TOKEN_HINT = "neither HODEI_TOKEN (a personal token, from POST /api/tokens when signed in) nor HODEI_ADMIN_TOKEN is set";

export class ApiClient {
  private readonly base: string;
  constructor(
    server: string,
    private readonly token: string | undefined,
  ) {
    this.base = server.replace(/\/+$/, "");
  }

  listRuns(q: { repo?: string; limit?: number; before?: string }): Promise<{ runs: RunView[]; next: string | null }> {
    const params = new URLSearchParams();
    if (q.repo) params.set("repo", q.repo);
    if (q.limit !== undefined) params.set("limit", String(q.limit));
    if (q.before) params.set("before", q.before);
    return this.json("GET", `/api/runs?${params.toString()}`);
  }

  getRun(id: string): Promise<RunView> {
    return this.json("GET", `/api/runs/${encodeURIComponent(id)}`);
  }

  async stageLog(runId: string, stageId: string): Promise<string> {
    const res = await this.request("GET", logPath(runId, stageId));
    return res.text();
  }

  /** Streams a stage's log until it ends; resolves with the stage's conclusion. */
  async followLog(runId: string, stageId: string, onEvent: (e: LogEvent) => void): Promise<string | null> {
    const res = await this.request("GET", `${logPath(runId, stageId)}?follow=1`);
    let conclusion: string | null = null;
    const decoder = new TextDecoder();
    let buffer = "";
    if (!res.body) return null;
    for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || data === undefined) continue;
        const e = { event, data: JSON.parse(data) as LogEvent["data"] } as LogEvent;
        if (e.event === "end") conclusion = e.data.conclusion ?? null;
        if (e.event === "error") throw new ApiError(500, e.data.error ?? "the log stream failed");
        onEvent(e);
      }
    }
    return conclusion;
  }

  rerun(runId: string, options: { stage?: string; failed?: boolean }): Promise<{ id: string; stages: string[] }> {
    const path = options.stage
      ? `/api/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(options.stage)}/rerun`
      : `/api/runs/${encodeURIComponent(runId)}/rerun${options.failed ? "?failed=1" : ""}`;
    return this.json("POST", path);
  }

  /** A manual run (`POST /api/runs`): the admin token only. */
  startRun(body: { repo: string; ref: string; sha?: string; inputs?: Record<string, string> }): Promise<{ id: string }> {
    return this.json("POST", "/api/runs", body);
  }

  cancel(runId: string): Promise<{ id: string }> {
    return this.json("POST", `/api/runs/${encodeURIComponent(runId)}/cancel`);
  }

  async setSecret(repo: string, name: string, value: string): Promise<void> {
    const [owner, project, ...rest] = repo.split("/");
    if (!owner || !project || rest.length > 0) throw new ApiError(400, `repository must be owner/name, got ${JSON.stringify(repo)}`);
    await this.request("PUT", `/api/repos/${encodeURIComponent(owner)}/${encodeURIComponent(project)}/secrets/${encodeURIComponent(name)}`, { value });
  }

  createAgentToken(body: { description?: string; expiresInSeconds?: number }): Promise<CreatedAgentToken> {
    return this.json("POST", "/api/agent-tokens", body);
  }

  listAgentTokens(): Promise<{ tokens: RegistrationTokenInfo[] }> {
    return this.json("GET", "/api/agent-tokens");
  }

  async revokeAgentToken(id: string): Promise<void> {
    await this.request("DELETE", `/api/agent-tokens/${encodeURIComponent(id)}`);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    // Reads too: a server with sign-in answers them only with a token.
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, `cannot reach ${this.base}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    if (res.status === 401 && !this.token) message += ` (${NO_TOKEN_HINT})`;
    throw new ApiError(res.status, message);
  }
}

function logPath(runId: string, stageId: string): string {
  return `/api/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stageId)}/logs`;
}
