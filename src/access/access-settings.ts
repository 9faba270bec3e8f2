/** What sign-in needs on the HTTP side: the store parts, the forges people sign in with, and the rules' knobs. */
import type { AuditLog } from "./audit.js";
import type { ForgeName, OAuthProvider } from "./oauth-provider.js";
import type { RepoAccess } from "./repo-access.js";
import type { UserStore } from "./user-store.js";

export interface AccessSettings {
  users: UserStore;
  repoAccess: RepoAccess;
  audit: AuditLog;
  /** The forges people may sign in with; none: reads stay open and writes take the admin token (today's behaviour). */
  providers: ReadonlyMap<ForgeName, OAuthProvider>;
  /** HODEI_PUBLIC_READ: anonymous reading of repositories the forge says are public. */
  publicRead: boolean;
  /** HODEI_PUBLIC_URL: the callback URLs are built from it; https makes the session cookie Secure. */
  publicUrl: string;
  /** Default 7 days. */
  sessionTtlMs?: number;
  /** How long a sign-in may take between the redirect and the callback; default 10 minutes. */
  signInTtlMs?: number;
  /** Requests per address and window on the sign-in, callback and token endpoints; default 30 a minute. */
  rateLimit?: { max: number; timeWindowMs: number };
  now?: () => Date;
}

export const SESSION_COOKIE = "hodei_session";
export const CSRF_HEADER = "x-hodei-csrf";
