/**
 * A local HTTP server (127.0.0.1 only) that answers like GitHub or Gitea and
 * checks every request Hodei sends against the forge's API description.
 * A request the description does not allow is answered 422 and recorded in
 * `violations`, so tests fail on it.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiContract } from "./api-contract.js";

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  operationId: string | null;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read nested fields
  authorization: string | undefined;
  /** What the fake answered (set once answered). */
  answer?: Answer;
}

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
export type Responder = (req: RecordedRequest) => Answer;
/**
 * A fault to inject before the normal answer: an answer of its own (a 500,
 * a 403 with rate-limit headers), `hold` to leave the request unanswered
 * (a hung forge; what it asked for is not done), or null for the normal one.
 */
export type Fault = (req: RecordedRequest) => Answer | "hold" | null;

export class FakeForge {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  private server: Server | null = null;
  url = "";
  /** Injected faults (see Fault); null: every request answered normally. */
  fault: Fault | null = null;
  /** Requests left unanswered by a `hold` fault. */
  readonly held: RecordedRequest[] = [];

  constructor(
    private readonly contract: ApiContract,
    private readonly respond: Responder,
    private readonly prefix = "",
    /** Operations whose answers (2xx) are checked against the description's response schema too: a fake's bug is a violation. */
    private readonly checkedAnswers: ReadonlySet<string> = new Set(),
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const url = new URL(req.url ?? "/", "http://fake");
        const path = url.pathname;
        let body: unknown;
        try {
          body = raw.length > 0 ? JSON.parse(raw) : undefined;
        } catch {
          body = raw;
        }
        const { operationId, errors } = this.contract.check(req.method ?? "GET", this.prefix + path, body, url.searchParams);
        const recorded: RecordedRequest = { method: req.method ?? "GET", path, query: url.searchParams, operationId, body: (body ?? {}) as RecordedRequest["body"], authorization: req.headers.authorization };
        this.requests.push(recorded);
        let answer: Answer;
        const fault = errors.length > 0 ? null : (this.fault?.(recorded) ?? null);
        if (fault === "hold") {
          this.held.push(recorded);
          return;
        }
        if (errors.length > 0) {
          this.violations.push(...errors);
          answer = { status: 422, body: { message: "Validation Failed", errors } };
        } else {
          answer = fault ?? this.respond(recorded);
          if (!fault && operationId && this.checkedAnswers.has(operationId) && answer.status < 300) {
            this.violations.push(...this.contract.checkAnswer(req.method ?? "GET", this.prefix + path, answer.status, answer.body));
          }
        }
        recorded.answer = answer;
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  byOperation(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** One page of `items` as `?page=` (from 1) and the page size parameter `sizeParam` ask. */
export function pageOf<T>(items: readonly T[], query: URLSearchParams, sizeParam: string, defaultSize: number): T[] {
  const size = Number(query.get(sizeParam) ?? defaultSize);
  const page = Number(query.get("page") ?? 1);
  return items.slice((page - 1) * size, page * size);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
