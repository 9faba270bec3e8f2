/**
 * A stand-in for signing in with GitHub or Gitea (127.0.0.1 only): the
 * OAuth 2 authorisation page (which signs in the test's chosen user at once
 * and redirects back with a code), the token endpoint (checks the client,
 * the redirect URI, the code's single use and the PKCE verifier), and the
 * API calls made with the user's token: the user, their repositories with
 * permissions (paged, with Link headers) and one repository. Every API
 * request is checked against the forge's description, and so is every
 * answer; breaks are recorded in `violations`.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiContract } from "./api-contract.js";
import { sampleOf } from "./schema-sample.js";

export type FakePermission = "admin" | "write" | "read";

export interface FakeOAuthUser {
  id: number;
  login: string;
  name: string;
  repos: { repo: string; private: boolean; permission: FakePermission }[];
}

export interface FakeOAuthOptions {
  forge: "github" | "gitea";
  clientId: string;
  clientSecret: string;
  /** The most repositories one page holds, whatever the client asks (to make tests page). */
  maxPageSize?: number;
}

interface Grant {
  login: string;
  redirectUri: string;
  challenge: string;
  used: boolean;
}

const contracts: { github?: ApiContract; gitea?: ApiContract } = {};

export class FakeOAuth {
  readonly users = new Map<string, FakeOAuthUser>();
  readonly violations: string[] = [];
  /** Every API call as `METHOD path?query`, in order. */
  readonly apiCalls: string[] = [];
  /** Who the authorisation page signs in next. */
  signInAs = "";
  /** What the authorisation page does: sign in, or deny as a user clicking "Cancel" would. */
  authorize: "grant" | "deny" = "grant";
  url = "";
  private readonly grants = new Map<string, Grant>();
  private readonly tokens = new Map<string, string>();
  private readonly contract: ApiContract;
  private server: Server | null = null;

  constructor(private readonly options: FakeOAuthOptions) {
    this.contract = options.forge === "github" ? (contracts.github ??= ApiContract.github()) : (contracts.gitea ??= ApiContract.gitea());
  }

  /** Where Hodei's API calls go: HODEI_GITHUB_API_URL, or GITEA/api/v1. */
  get apiUrl(): string {
    return this.options.forge === "github" ? `${this.url}/api` : `${this.url}/api/v1`;
  }

  addUser(user: FakeOAuthUser): void {
    this.users.set(user.login, user);
  }

  /** Changes what the forge says about one user's repository (e.g. write taken away). */
  setPermission(login: string, repo: string, permission: FakePermission | null): void {
    const user = this.users.get(login);
    if (!user) throw new Error(`no fake user ${login}`);
    const rest = user.repos.filter((r) => r.repo !== repo);
    const old = user.repos.find((r) => r.repo === repo);
    user.repos = permission ? [...rest, { repo, private: old?.private ?? true, permission }] : rest;
  }

  /** Revokes every token the user was given (as when they revoke the app on the forge). */
  revokeTokens(login: string): void {
    for (const [token, owner] of this.tokens) if (owner === login) this.tokens.delete(token);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void readBody(req)
        .then((body) => this.handle(req, res, body))
        .catch((error: unknown) => {
          res.writeHead(500).end(String(error));
        });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", this.url);
    if (url.pathname === "/login/oauth/authorize" && req.method === "GET") return this.authorizePage(url, res);
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST") return this.tokenEndpoint(req, res, body);
    const prefix = this.options.forge === "github" ? "/api" : "/api/v1";
    if (!url.pathname.startsWith(`${prefix}/`)) return json(res, 404, { message: "Not Found" });
    this.api(req, res, url, url.pathname.slice(prefix.length));
  }

  private authorizePage(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const redirect = q.get("redirect_uri");
    if (q.get("client_id") !== this.options.clientId || !redirect) return json(res, 400, { error: "unknown client or no redirect_uri" });
    const back = new URL(redirect);
    if (q.get("state")) back.searchParams.set("state", q.get("state")!);
    if (q.get("response_type") !== "code" || q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
      back.searchParams.set("error", "invalid_request");
      back.searchParams.set("error_description", "response_type=code with an S256 code_challenge is required");
    } else if (this.authorize === "deny") {
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
    } else {
      const code = randomBytes(12).toString("hex");
      this.grants.set(code, { login: this.signInAs, redirectUri: redirect, challenge: q.get("code_challenge")!, used: false });
      back.searchParams.set("code", code);
    }
    res.writeHead(302, { location: back.toString() }).end();
  }

  private tokenEndpoint(req: IncomingMessage, res: ServerResponse, body: string): void {
    const form = new URLSearchParams(body);
    const answer = (status: number, payload: Record<string, string>) => {
      // GitHub answers form-encoded unless asked for JSON (and errors with 200).
      if (this.options.forge === "github" && !(req.headers.accept ?? "").includes("json")) {
        res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" }).end(new URLSearchParams(payload).toString());
      } else json(res, status, payload);
    };
    if (form.get("client_id") !== this.options.clientId || form.get("client_secret") !== this.options.clientSecret) return answer(401, { error: "invalid_client" });
    const grant = this.grants.get(form.get("code") ?? "");
    if (form.get("grant_type") !== "authorization_code" || !grant || grant.used) return answer(400, { error: "invalid_grant", error_description: "bad or used code" });
    grant.used = true;
    if (grant.redirectUri !== form.get("redirect_uri")) return answer(400, { error: "invalid_grant", error_description: "redirect_uri differs" });
    const verifier = form.get("code_verifier") ?? "";
    if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) return answer(400, { error: "invalid_grant", error_description: "PKCE verification failed" });
    const token = `fake_${randomBytes(16).toString("hex")}`;
    this.tokens.set(token, grant.login);
    answer(200, { access_token: token, token_type: "bearer", scope: "repo" });
  }

  private api(req: IncomingMessage, res: ServerResponse, url: URL, path: string): void {
    const method = req.method ?? "GET";
    const fullPath = this.options.forge === "github" ? path : `/api/v1${path}`;
    this.apiCalls.push(`${method} ${path}${url.search}`);
    const { operationId, errors } = this.contract.check(method, fullPath, undefined);
    if (errors.length > 0) {
      this.violations.push(...errors);
      return json(res, 422, { message: "Validation Failed", errors });
    }
    const auth = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const user = auth ? this.users.get(this.tokens.get(auth) ?? "") : undefined;
    if (!user) return json(res, 401, { message: "Bad credentials" });
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      const problems = this.contract.checkAnswer(method, fullPath, status, value);
      this.violations.push(...problems);
      json(res, status, value, headers);
    };
    const sample = (given: unknown) => {
      const found = this.contract.answerSchema(method, fullPath, 200);
      if ("error" in found) throw new Error(found.error);
      return sampleOf(found.schema, given);
    };
    const gh = this.options.forge === "github";
    const repoJson = (r: FakeOAuthUser["repos"][number], index: number) => {
      const [owner = "", name = ""] = r.repo.split("/");
      const permissions = { admin: r.permission === "admin", push: r.permission !== "read", pull: true };
      return gh
        ? { id: 100 + index, name, full_name: r.repo, private: r.private, owner: { login: owner, id: 1, type: "User" }, permissions, license: null, mirror_url: null, homepage: null, language: null, description: null }
        : { id: 100 + index, name, full_name: r.repo, private: r.private, owner: { login: owner, id: 1 }, permissions };
    };

    if (operationId === (gh ? "users/get-authenticated" : "userGetCurrent")) {
      return send(200, sample(gh ? { id: user.id, login: user.login, name: user.name, type: "User", email: null, bio: null, blog: null, company: null, hireable: null, location: null, gravatar_id: null } : { id: user.id, login: user.login, full_name: user.name }));
    }
    if (operationId === (gh ? "repos/list-for-authenticated-user" : "userCurrentListRepos")) {
      const asked = Number(url.searchParams.get(gh ? "per_page" : "limit") ?? (gh ? 30 : 30));
      const size = Math.min(asked, this.options.maxPageSize ?? asked);
      const page = Number(url.searchParams.get("page") ?? 1);
      const all = user.repos.map(repoJson);
      const slice = all.slice((page - 1) * size, page * size);
      const headers: Record<string, string> = {};
      if (page * size < all.length) {
        const next = new URL(url.toString());
        next.searchParams.set("page", String(page + 1));
        headers.link = `<${next.toString()}>; rel="next"`;
      }
      return send(200, gh ? slice.map((r) => sample([r])).flat() : slice, headers);
    }
    if (operationId === (gh ? "repos/get" : "repoGet")) {
      const parts = path.split("/").filter(Boolean); // repos/{owner}/{repo}
      const full = `${decodeURIComponent(parts[1] ?? "")}/${decodeURIComponent(parts[2] ?? "")}`;
      const index = user.repos.findIndex((r) => r.repo === full);
      if (index < 0) return json(res, 404, { message: "Not Found" });
      return send(200, gh ? sample(repoJson(user.repos[index]!, index)) : repoJson(user.repos[index]!, index));
    }
    json(res, 404, { message: `the fake ${this.options.forge} does not answer ${operationId ?? path}` });
  }
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
