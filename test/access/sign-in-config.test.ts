/** Sign-in configuration from the environment: each mistake named by its variable. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadServerConfig } from "../../src/server/config.js";

const load = (env: Record<string, string>) => loadServerConfig(env);
const error = (env: Record<string, string>): ConfigError => {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no ConfigError");
};

describe("sign-in configuration", () => {
  it("is off by default; GitHub and Gitea OAuth apps with their endpoints when set", () => {
    expect(load({}).signIn).toEqual({ github: undefined, gitea: undefined, publicRead: false, accessCacheMs: 300_000 });
    const c = load({
      HODEI_GITHUB_OAUTH_CLIENT_ID: "gh-id",
      HODEI_GITHUB_OAUTH_CLIENT_SECRET: "gh-secret",
      HODEI_GITHUB_URL: "https://ghe.example.com/",
      HODEI_GITHUB_API_URL: "https://ghe.example.com/api/v3",
      HODEI_GITEA_OAUTH_CLIENT_ID: "gt-id",
      HODEI_GITEA_OAUTH_CLIENT_SECRET: "gt-secret",
      HODEI_GITEA_URL: "https://gitea.example.com",
      HODEI_PUBLIC_READ: "1",
      HODEI_ACCESS_CACHE_MS: "60000",
    });
    expect(c.signIn).toEqual({
      github: { clientId: "gh-id", clientSecret: "gh-secret", webUrl: "https://ghe.example.com", apiUrl: "https://ghe.example.com/api/v3" },
      gitea: { clientId: "gt-id", clientSecret: "gt-secret", webUrl: "https://gitea.example.com", apiUrl: "https://gitea.example.com/api/v1" },
      publicRead: true,
      accessCacheMs: 60_000,
    });
    // A Gitea used only for signing in needs no HODEI_GITEA_TOKEN.
    expect(c.gitea).toBeUndefined();
  });

  it("names the variable that is wrong", () => {
    expect(error({ HODEI_GITHUB_OAUTH_CLIENT_ID: "x" }).variable).toBe("HODEI_GITHUB_OAUTH_CLIENT_SECRET");
    expect(error({ HODEI_GITEA_OAUTH_CLIENT_SECRET: "x" }).variable).toBe("HODEI_GITEA_OAUTH_CLIENT_ID");
    expect(error({ HODEI_GITEA_OAUTH_CLIENT_ID: "x", HODEI_GITEA_OAUTH_CLIENT_SECRET: "y" }).variable).toBe("HODEI_GITEA_URL");
    expect(error({ HODEI_PUBLIC_READ: "1" }).variable).toBe("HODEI_PUBLIC_READ");
    expect(error({ HODEI_GITHUB_OAUTH_CLIENT_ID: "x", HODEI_GITHUB_OAUTH_CLIENT_SECRET: "y", HODEI_PUBLIC_READ: "maybe" }).variable).toBe("HODEI_PUBLIC_READ");
    expect(error({ HODEI_GITHUB_OAUTH_CLIENT_ID: "x", HODEI_GITHUB_OAUTH_CLIENT_SECRET: "y", HODEI_GITHUB_URL: "github.com" }).variable).toBe("HODEI_GITHUB_URL");
    expect(error({ HODEI_ACCESS_CACHE_MS: "-1" }).variable).toBe("HODEI_ACCESS_CACHE_MS");
  });
});
