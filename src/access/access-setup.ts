/** The sign-in parts of the server, from its configuration: one OAuth provider per configured forge, over the store. */
import type { SecretsKey } from "../secrets/key.js";
import type { ServerConfig } from "../server/config.js";
import type { Database } from "../store/database.js";
import type { AccessSettings } from "./access-settings.js";
import { AuditLog } from "./audit.js";
import { OAuthProvider, type ForgeName } from "./oauth-provider.js";
import { RepoAccess } from "./repo-access.js";
import { UserStore } from "./user-store.js";

export function accessSettingsFrom(config: Pick<ServerConfig, "signIn" | "publicUrl">, db: Database, key: SecretsKey): AccessSettings {
  const providers = new Map<ForgeName, OAuthProvider>();
  const { github, gitea } = config.signIn;
  if (github) providers.set("github", new OAuthProvider({ forge: "github", ...github }));
  if (gitea) providers.set("gitea", new OAuthProvider({ forge: "gitea", ...gitea }));
  const users = new UserStore(db, key);
  return {
    users,
    repoAccess: new RepoAccess(users, providers, config.signIn.accessCacheMs),
    audit: new AuditLog(db),
    providers,
    publicRead: config.signIn.publicRead,
    publicUrl: config.publicUrl,
  };
}
