/**
 * Signing in through a forge: the OAuth 2 authorization-code flow with state
 * and PKCE (S256) against GitHub (an OAuth app, or a GitHub App's user
 * authorisation: same endpoints) or Gitea (an OAuth2 application), through
 * oauth4webapi, and the few API calls made with the user's token: who they
 * are, and which repositories they may read, push to or administer.
 */
import * as oauth from "oauth4webapi";
import type { SignedInUser } from "./principal.js";

export type ForgeName = SignedInUser["forge"];

export interface OAuthSettings {
  forge: ForgeName;
  clientId: string;
  clientSecret: string;
  /** Where people sign in: `https://github.com` (HODEI_GITHUB_URL) or the Gitea base URL. */
  webUrl: string;
  /** REST base: `https://api.github.com` (HODEI_GITHUB_API_URL) or `GITEA/api/v1`. */
  apiUrl: string;
}

export interface ForgeAccount {
  forgeUserId: string;
  login: string;
  name: string | null;
}

/** One repository as the forge lists it for the user. */
export interface ForgeRepoPermission {
  repo: string;
  private: boolean;
  pull: boolean;
  push: boolean;
  admin: boolean;
}

export class ForgeApiError extends Error {
  constructor(
    readonly forge: ForgeName,
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${forge} answered ${status} to ${url.replace(/\?.*$/, "")}: ${detail}`);
    this.name = "ForgeApiError";
  }
}

export class SignInError extends Error {
  constructor(
    readonly forge: ForgeName,
    detail: string,
  ) {
    super(`sign-in with ${forge} failed: ${detail}`);
    this.name = "SignInError";
  }
}

/** Repositories beyond this many pages (10,000 on GitHub, 5,000 on Gitea) are not listed. */
const MAX_PAGES = 100;

export class OAuthProvider {
  readonly forge: ForgeName;
  private readonly as: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly insecure: boolean;

  constructor(private readonly settings: OAuthSettings) {
    this.forge = settings.forge;
    const web = settings.webUrl.replace(/\/+$/, "");
    this.as = {
      issuer: web,
      authorization_endpoint: `${web}/login/oauth/authorize`,
      token_endpoint: `${web}/login/oauth/access_token`,
      code_challenge_methods_supported: ["S256"],
    };
    this.client = { client_id: settings.clientId };
    // Tests' stand-in forges listen on plain http on 127.0.0.1.
    this.insecure = web.startsWith("http:");
  }

  /** A fresh PKCE verifier, kept by the caller until the callback. */
  static newCodeVerifier(): string {
    return oauth.generateRandomCodeVerifier();
  }

  async authorizationUrl(redirectUri: string, state: string, codeVerifier: string): Promise<URL> {
    const url = new URL(this.as.authorization_endpoint!);
    url.searchParams.set("client_id", this.settings.clientId);
    url.searchParams.set("redirect_uri", redirectUri);
    url.searchParams.set("response_type", "code");
    // GitHub: `repo` to see private repositories and their permissions. Gitea: read-only scopes.
    url.searchParams.set("scope", this.forge === "github" ? "read:user repo" : "read:user read:repository");
    url.searchParams.set("state", state);
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
    return url;
  }

  /** Checks the callback's state and exchanges its code for the user's access token. */
  async exchange(callback: URLSearchParams, expectedState: string, codeVerifier: string, redirectUri: string): Promise<string> {
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(this.as, this.client, callback, expectedState);
    } catch (error) {
      throw new SignInError(this.forge, describe(error));
    }
    try {
      const response = await oauth.authorizationCodeGrantRequest(this.as, this.client, oauth.ClientSecretPost(this.settings.clientSecret), params, redirectUri, codeVerifier, {
        [oauth.allowInsecureRequests]: this.insecure,
      });
      const result = await oauth.processAuthorizationCodeResponse(this.as, this.client, response);
      return result.access_token;
    } catch (error) {
      throw new SignInError(this.forge, `the code exchange was refused: ${describe(error)}`);
    }
  }

  async account(token: string): Promise<ForgeAccount> {
    const { body } = await this.get<{ id: number; login: string; name?: string | null; full_name?: string | null }>(token, `${this.settings.apiUrl}/user`);
    return { forgeUserId: String(body.id), login: body.login, name: (this.forge === "github" ? body.name : body.full_name) || null };
  }

  /** Every repository the user can see, with their permissions: one listing, followed page by page. */
  async repositories(token: string): Promise<ForgeRepoPermission[]> {
    const out: ForgeRepoPermission[] = [];
    const first = this.forge === "github" ? "/user/repos?per_page=100&page=1" : "/user/repos?limit=50&page=1";
    let url: string | null = `${this.settings.apiUrl}${first}`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const { body, next }: { body: RepoJson[]; next: string | null } = await this.get<RepoJson[]>(token, url);
      for (const r of body) out.push(toPermission(r));
      url = next;
    }
    return out;
  }

  /** The user's permissions on one repository, asked now; null when the forge does not show it to them. */
  async repository(token: string, repo: string): Promise<ForgeRepoPermission | null> {
    const [owner, name] = repo.split("/");
    try {
      const { body } = await this.get<RepoJson>(token, `${this.settings.apiUrl}/repos/${encodeURIComponent(owner ?? "")}/${encodeURIComponent(name ?? "")}`);
      return toPermission(body);
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return null;
      throw error;
    }
  }

  private async get<T>(token: string, url: string): Promise<{ body: T; next: string | null }> {
    const response = await fetch(url, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: this.forge === "github" ? "application/vnd.github+json" : "application/json",
        "user-agent": "hodei",
      },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw new ForgeApiError(this.forge, url, response.status, text.slice(0, 200) || response.statusText);
    }
    return { body: (await response.json()) as T, next: nextLink(response.headers.get("link")) };
  }
}

interface RepoJson {
  full_name: string;
  private: boolean;
  permissions?: { admin?: boolean; push?: boolean; pull?: boolean };
}

function toPermission(r: RepoJson): ForgeRepoPermission {
  const p = r.permissions ?? {};
  return { repo: r.full_name, private: r.private, pull: p.pull === true || p.push === true || p.admin === true, push: p.push === true || p.admin === true, admin: p.admin === true };
}

/** The `rel="next"` target of an RFC 8288 Link header. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
    if (m?.[2]?.split(/\s+/).includes("next")) return m[1] ?? null;
  }
  return null;
}

function describe(error: unknown): string {
  if (error instanceof oauth.AuthorizationResponseError) return `${error.error}${error.error_description ? `: ${error.error_description}` : ""}`;
  if (error instanceof oauth.ResponseBodyError) return `${error.error}${error.error_description ? `: ${error.error_description}` : ""}`;
  return error instanceof Error ? error.message : String(error);
}
