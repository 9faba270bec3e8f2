/**
 * The access rules every endpoint asks (issue 17):
 * - who the request is (principal): the admin token, a personal token, the
 *   session cookie, or nobody;
 * - reads: with sign-in configured, a user reads the repositories the forge
 *   lets them read, anonymous callers get 401 unless public reading is on
 *   (and then only public repositories); a run the caller may not read is
 *   answered 404, exactly like one that does not exist. Without sign-in,
 *   reads are open, as before;
 * - writes: the admin token, or a user whose permission on the run's
 *   repository the forge confirms at that moment (write for runs, admin for
 *   secrets); 403 says why. A write authenticated by the session cookie must
 *   carry the session's CSRF token in `x-hodei-csrf`.
 */
import { timingSafeEqual } from "node:crypto";
import { fastifyCookie } from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import { adminAuth } from "../http/auth.js";
import { HttpError, notFound } from "../http/errors.js";
import { readableRunRepo, type RunReader } from "../store/run-queries.js";
import type { Database } from "../store/database.js";
import { CSRF_HEADER, SESSION_COOKIE, type AccessSettings } from "./access-settings.js";
import { ForgeApiError } from "./oauth-provider.js";
import type { Principal, SignedInUser } from "./principal.js";
import { ForgeTokenUnreadableError } from "./user-store.js";

export type UserPrincipal = Extract<Principal, { kind: "user" }>;

/** What a write needs on the repository: write (push) for runs, admin for secrets. */
export type Need = "push" | "admin";

export class AccessPolicy {
  private readonly memo = new WeakMap<FastifyRequest, Promise<Principal>>();
  readonly now: () => Date;

  constructor(
    private readonly db: Database,
    private readonly adminToken: string | undefined,
    readonly settings: AccessSettings | undefined,
  ) {
    this.now = settings?.now ?? (() => new Date());
    this.adminOnly = adminAuth(adminToken);
  }

  /** Sign-in is configured: reads are checked. */
  get enforcing(): boolean {
    return (this.settings?.providers.size ?? 0) > 0;
  }

  principal(request: FastifyRequest): Promise<Principal> {
    let p = this.memo.get(request);
    if (!p) {
      p = this.resolve(request);
      this.memo.set(request, p);
    }
    return p;
  }

  /** Who may read runs for this request (undefined: everyone); 401 for an anonymous caller when reads need sign-in. */
  async reader(request: FastifyRequest, reply: FastifyReply): Promise<RunReader | undefined> {
    if (!this.enforcing) return undefined;
    const p = await this.principal(request);
    const publicRead = this.settings?.publicRead ?? false;
    if (p.kind === "admin") return undefined;
    if (p.kind === "user") {
      await forgeCall(p.user, () => this.settings!.repoAccess.ensureFresh(p.user));
      return { userId: p.user.id, forge: p.user.forge, publicRead };
    }
    if (publicRead) return { userId: null, forge: null, publicRead };
    throw unauthenticated(reply, "sign in to read runs: /auth/github/login or /auth/gitea/login, or send Authorization: Bearer with a personal token");
  }

  /** The run's repository when the caller may read it; 404 (as for an unknown run) otherwise, 401 for an anonymous caller. */
  async readableRun(request: FastifyRequest, reply: FastifyReply, runId: string): Promise<string> {
    const reader = await this.reader(request, reply);
    const repo = await readableRunRepo(this.db, runId, reader);
    if (repo !== null) return repo;
    if (reader && reader.userId === null) throw unauthenticated(reply, `sign in to read run ${runId}`);
    throw notFound(`no run ${runId}`);
  }

  /** What a signed-in person may do on `repo` as the cached listing says (null for the admin token, anonymous callers and without sign-in). */
  async viewer(request: FastifyRequest, repo: string): Promise<{ canWrite: boolean; canSetSecrets: boolean } | null> {
    if (!this.enforcing) return null;
    const p = await this.principal(request);
    if (p.kind !== "user") return null;
    const cached = await this.settings!.users.cachedAccess(p.user.id, repo);
    return { canWrite: cached?.push ?? false, canSetSecrets: cached?.admin ?? false };
  }

  /** A stream's check, per run it is about to send: may this reader see it? */
  async mayRead(reader: RunReader | undefined, runId: string): Promise<boolean> {
    return reader === undefined || (await readableRunRepo(this.db, runId, reader)) !== null;
  }

  /**
   * The principal allowed to `what` (e.g. "re-run runs of") on `repo`; throws 401/403 otherwise.
   * Without sign-in configured, only the admin token writes (as before).
   */
  async writer(request: FastifyRequest, reply: FastifyReply, repo: string, need: Need, what: string): Promise<Principal> {
    if (!this.enforcing) {
      await this.adminOnly(request, reply);
      return { kind: "admin" };
    }
    const p = await this.principal(request);
    if (p.kind === "admin") return p;
    if (p.kind === "anonymous") throw unauthenticated(reply, "sign in, or send Authorization: Bearer with a personal token or the admin token");
    this.checkCsrf(request, p);
    const permission = await forgeCall(p.user, () => this.settings!.repoAccess.current(p.user, repo));
    const has = permission === null ? "no access" : permission.admin ? "admin" : permission.push ? "write" : "read";
    const ok = permission !== null && (need === "admin" ? permission.admin : permission.push);
    if (!ok) {
      const needed = need === "admin" ? "admin" : "write";
      throw new HttpError(403, `${p.user.login} may not ${what} ${repo}: that needs ${needed} permission on ${p.user.forge}, where ${p.user.login} has ${has}`);
    }
    return p;
  }

  /** A signed-in user (401 otherwise), with the CSRF check for cookie-authenticated writes. */
  async user(request: FastifyRequest, reply: FastifyReply): Promise<UserPrincipal> {
    const p = await this.principal(request);
    if (p.kind !== "user") throw unauthenticated(reply, p.kind === "admin" ? "this endpoint is for signed-in users, not the admin token" : "sign in first");
    if (request.method !== "GET" && request.method !== "HEAD") this.checkCsrf(request, p);
    return p;
  }

  /** The admin token only (401/403 otherwise). */
  async admin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!this.enforcing) return this.adminOnly(request, reply);
    const p = await this.principal(request);
    if (p.kind === "admin") return;
    if (!this.adminToken) throw new HttpError(403, "this endpoint takes the admin token: start the server with HODEI_ADMIN_TOKEN set");
    if (p.kind === "anonymous") throw unauthenticated(reply, "missing bearer token: send Authorization: Bearer $HODEI_ADMIN_TOKEN");
    throw new HttpError(403, `${p.user.login} is not an administrator of this server: this endpoint takes the admin token`);
  }

  /** Today's rule without sign-in: the admin token or nothing (auth.ts). */
  readonly adminOnly: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

  private checkCsrf(request: FastifyRequest, p: UserPrincipal): void {
    if (p.via !== "session") return;
    const sent = request.headers[CSRF_HEADER];
    if (typeof sent !== "string" || !safeEqual(sent, p.csrfToken)) {
      throw new HttpError(403, `a write signed in by the session cookie must send the session's CSRF token (GET /api/me) in the ${CSRF_HEADER} header`);
    }
  }

  private async resolve(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) throw new HttpError(401, "the Authorization header must be Bearer TOKEN");
      const token = match[1];
      if (this.adminToken && safeEqual(token, this.adminToken)) return { kind: "admin" };
      const found = this.settings ? await this.settings.users.tokenUser(token, this.now()) : null;
      if (found) return { kind: "user", user: found.user, via: "token", tokenId: found.tokenId };
      throw new HttpError(401, this.settings ? "invalid bearer token (unknown, revoked or expired)" : "invalid bearer token");
    }
    const cookie = request.headers.cookie;
    if (this.settings && cookie) {
      const secret = fastifyCookie.parse(cookie)[SESSION_COOKIE];
      const session = secret ? await this.settings.users.session(secret, this.now()) : null;
      if (session) return { kind: "user", user: session.user, via: "session", csrfToken: session.csrfToken };
    }
    return { kind: "anonymous" };
  }
}

export function describeUser(user: SignedInUser): { id: string; forge: string; login: string; name: string | null } {
  return { id: user.id, forge: user.forge, login: user.login, name: user.name };
}

/** The forge's refusals as answers: a token it no longer accepts means signing in again (401); the forge failing, 502. */
async function forgeCall<T>(user: SignedInUser, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ForgeTokenUnreadableError) throw new HttpError(401, error.message);
    if (error instanceof ForgeApiError) {
      if (error.status === 401) throw new HttpError(401, `${user.forge} no longer accepts the sign-in of ${user.login}: sign in again`);
      throw new HttpError(502, `asking ${user.forge} what ${user.login} may do failed: ${error.message}`);
    }
    throw error;
  }
}

function unauthenticated(reply: FastifyReply, message: string): HttpError {
  void reply.header("www-authenticate", 'Bearer realm="hodei"');
  return new HttpError(401, message);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const policies = new WeakMap<object, AccessPolicy>();

/** One policy per app (its options object), shared by the route modules. */
export function accessPolicyFor(options: { db: Database; adminToken?: string; access?: AccessSettings }): AccessPolicy {
  let policy = policies.get(options);
  if (!policy) {
    policy = new AccessPolicy(options.db, options.adminToken, options.access);
    policies.set(options, policy);
  }
  return policy;
}
