/**
 * What a signed-in user may do on each repository, as the forge says. Reads
 * use the store's copy of one listing (GitHub and Gitea `GET /user/repos`,
 * with `permissions {admin, push, pull}`), fetched at sign-in and again once
 * it is older than the cache time; a write asks the forge about its one
 * repository at that moment, so a revoked permission stops writes at once.
 */
import type { OAuthProvider, ForgeName, ForgeRepoPermission } from "./oauth-provider.js";
import type { SignedInUser } from "./principal.js";
import type { RepoPermission, UserStore } from "./user-store.js";

export const DEFAULT_ACCESS_CACHE_MS = 5 * 60_000;

export class RepoAccess {
  constructor(
    private readonly store: UserStore,
    private readonly providers: ReadonlyMap<ForgeName, OAuthProvider>,
    private readonly cacheMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Fetches the user's listing from the forge now (at sign-in). */
  async refresh(user: SignedInUser): Promise<void> {
    const provider = this.provider(user);
    const repos = await provider.repositories(await this.store.forgeToken(user.id));
    await this.store.replaceAccess(user, repos, this.now());
  }

  /** Refreshes the listing when the copy is older than the cache time; the runs list and streams then read the store. */
  async ensureFresh(user: SignedInUser): Promise<void> {
    const fetched = await this.store.accessFetchedAt(user.id);
    if (!fetched || this.now().getTime() - fetched.getTime() >= this.cacheMs) await this.refresh(user);
  }

  /** The user's permission on `repo` asked from the forge now (null: they cannot even read it); the copy is updated too. */
  async current(user: SignedInUser, repo: string): Promise<RepoPermission | null> {
    const provider = this.provider(user);
    const permission: ForgeRepoPermission | null = await provider.repository(await this.store.forgeToken(user.id), repo);
    await this.store.replaceRepoAccess(user, repo, permission, this.now());
    return permission?.pull ? { push: permission.push, admin: permission.admin } : null;
  }

  get cacheTimeMs(): number {
    return this.cacheMs;
  }

  private provider(user: SignedInUser): OAuthProvider {
    const provider = this.providers.get(user.forge);
    if (!provider) throw new Error(`sign-in with ${user.forge} is no longer configured on this server`);
    return provider;
  }
}
