/**
 * Signing in through a forge (issue 17):
 * - `GET /auth/:forge/login` stores an attempt (hashed state, PKCE verifier,
 *   expiry), gives the browser the state in a short-lived cookie and
 *   redirects to the forge's authorisation page;
 * - `GET /auth/:forge/callback` checks the state against that cookie (a
 *   callback carried into another browser is refused: no login CSRF), takes
 *   the attempt back (once), exchanges the
 *   code, reads the account and its repository permissions, and sets the
 *   `hodei_session` cookie (HttpOnly, SameSite=Lax, Secure on https);
 * - `POST /auth/logout` ends the session;
 * - `GET /api/me` says who is signed in, with the CSRF token writes need.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { accessPolicyFor, describeUser } from "../../access/access-policy.js";
import { SESSION_COOKIE, type AccessSettings } from "../../access/access-settings.js";
import { ForgeApiError, OAuthProvider, SignInError, type ForgeName } from "../../access/oauth-provider.js";
import { HttpError, notFound } from "../errors.js";
import type { HttpAppOptions } from "../options.js";

const DAY_MS = 24 * 3600_000;
/** Holds the state of the sign-in this browser started, until its callback. */
const ATTEMPT_COOKIE = "hodei_sign_in";

export function registerSignInRoutes(app: FastifyInstance, options: HttpAppOptions & { access: AccessSettings }): void {
  const access = options.access;
  const policy = accessPolicyFor(options);
  const sessionTtlMs = access.sessionTtlMs ?? 7 * DAY_MS;
  const signInTtlMs = access.signInTtlMs ?? 10 * 60_000;
  const secure = access.publicUrl.startsWith("https:");
  const rateLimit = access.rateLimit ?? { max: 30, timeWindowMs: 60_000 };
  const limited = { rateLimit: { max: rateLimit.max, timeWindow: rateLimit.timeWindowMs } };
  const callbackUrl = (forge: ForgeName) => `${access.publicUrl}/auth/${forge}/callback`;
  const provider = (forge: string): OAuthProvider => {
    const p = forge === "github" || forge === "gitea" ? access.providers.get(forge) : undefined;
    if (!p) throw notFound(`sign-in with ${forge} is not configured on this server`);
    return p;
  };

  app.get<{ Params: { forge: string }; Querystring: { return_to?: string } }>("/auth/:forge/login", { config: limited }, async (request, reply) => {
    const p = provider(request.params.forge);
    const verifier = OAuthProvider.newCodeVerifier();
    const returnTo = safeReturnTo(request.query.return_to);
    const state = await access.users.startAttempt(p.forge, verifier, returnTo, signInTtlMs, policy.now());
    const url = await p.authorizationUrl(callbackUrl(p.forge), state, verifier);
    // The callback must come back to the browser that started the sign-in (no login CSRF).
    void reply.setCookie(ATTEMPT_COOKIE, state, { path: "/auth/", httpOnly: true, sameSite: "lax", secure, maxAge: Math.ceil(signInTtlMs / 1000) });
    return reply.header("cache-control", "no-store").redirect(url.toString(), 302);
  });

  app.get<{ Params: { forge: string }; Querystring: Record<string, string> }>("/auth/:forge/callback", { config: limited }, async (request, reply) => {
    const p = provider(request.params.forge);
    const query = new URLSearchParams(request.query);
    const state = query.get("state");
    void reply.clearCookie(ATTEMPT_COOKIE, { path: "/auth/", httpOnly: true, sameSite: "lax", secure });
    if (state && request.cookies[ATTEMPT_COOKIE] !== state) {
      throw new HttpError(400, `this sign-in was started in another browser: start again at /auth/${p.forge}/login`);
    }
    const attempt = state ? await access.users.finishAttempt(p.forge, state, policy.now()) : null;
    if (!state || !attempt) throw new HttpError(400, `this sign-in is unknown, used or expired: start again at /auth/${p.forge}/login`);
    let token: string;
    try {
      token = await p.exchange(query, state, attempt.codeVerifier, callbackUrl(p.forge));
    } catch (error) {
      if (error instanceof SignInError) throw new HttpError(400, error.message);
      throw error;
    }
    let user;
    try {
      user = await access.users.upsertUser(p.forge, await p.account(token), token, policy.now());
      await access.repoAccess.refresh(user);
    } catch (error) {
      if (error instanceof ForgeApiError) throw new HttpError(502, `sign-in with ${p.forge}: ${error.message}`);
      throw error;
    }
    const session = await access.users.createSession(user.id, sessionTtlMs, policy.now());
    await access.audit.record({ principal: { kind: "user", user, via: "session", csrfToken: session.csrfToken }, action: "sign_in", detail: { forge: p.forge }, ip: request.ip }, policy.now());
    setSessionCookie(reply, session.secret, session.expiresAt, secure);
    return reply.header("cache-control", "no-store").redirect(attempt.returnTo, 302);
  });

  app.post("/auth/logout", async (request, reply) => {
    const principal = await policy.principal(request);
    if (principal.kind === "user" && principal.via === "session") {
      await policy.user(request, reply); // the CSRF check
      const secret = request.cookies[SESSION_COOKIE];
      if (secret) await access.users.endSession(secret);
      await access.audit.record({ principal, action: "sign_out", ip: request.ip }, policy.now());
    }
    void reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure });
    return reply.status(204).send();
  });

  app.get("/api/me", async (request, reply) => {
    const principal = await policy.principal(request);
    if (principal.kind === "admin") return { kind: "admin", user: null, csrfToken: null };
    if (principal.kind === "anonymous") {
      void reply.header("www-authenticate", 'Bearer realm="hodei"');
      return reply.status(401).send({ error: "not signed in", signIn: [...access.providers.keys()].map((f) => `/auth/${f}/login`) });
    }
    return { kind: "user", via: principal.via, user: describeUser(principal.user), csrfToken: principal.via === "session" ? principal.csrfToken : null };
  });
}

function setSessionCookie(reply: FastifyReply, secret: string, expires: Date, secure: boolean): void {
  void reply.setCookie(SESSION_COOKIE, secret, { path: "/", httpOnly: true, sameSite: "lax", secure, expires });
}

/** Only a path on this server (no scheme, no `//host`), so the callback cannot be used to redirect elsewhere. */
function safeReturnTo(value: string | undefined): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return "/";
  return value.slice(0, 2048);
}
