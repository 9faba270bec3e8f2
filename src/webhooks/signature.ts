/**
 * Webhook signatures, checked on the raw body bytes before anything parses
 * them. GitHub: `X-Hub-Signature-256: sha256=HEX`, verified by
 * @octokit/webhooks (with its secret rotation). Gitea: `X-Gitea-Signature:
 * HEX`, bare hex HMAC-SHA256. Every configured secret is tried, so a secret
 * can be rotated without losing deliveries.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhooks } from "@octokit/webhooks";

export type Verifier = (rawBody: Buffer, signature: string | undefined) => Promise<boolean>;

/** `secrets[0]` is the current secret, the rest are still accepted (rotation). */
export function githubVerifier(secrets: readonly string[]): Verifier {
  if (secrets.length === 0) throw new Error("githubVerifier needs at least one secret");
  // `Webhooks#verify` checks the primary secret only (its additionalSecrets
  // serve verifyAndReceive), so one instance per accepted secret.
  const verifiers = secrets.map((secret) => new Webhooks({ secret }));
  return async (rawBody, signature) => {
    if (!signature || !/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
    const text = rawBody.toString("utf8");
    for (const webhooks of verifiers) {
      if (await webhooks.verify(text, signature).catch(() => false)) return true;
    }
    return false;
  };
}

export function giteaVerifier(secrets: readonly string[]): Verifier {
  if (secrets.length === 0) throw new Error("giteaVerifier needs at least one secret");
  return (rawBody, signature) => {
    if (!signature || !/^[0-9a-f]{64}$/i.test(signature)) return Promise.resolve(false);
    const given = Buffer.from(signature.toLowerCase(), "hex");
    return Promise.resolve(secrets.some((secret) => timingSafeEqual(createHmac("sha256", secret).update(rawBody).digest(), given)));
  };
}

/** What a forge would send for `body` under `secret` (tests, tools). */
export function signGithub(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function signGitea(secret: string, body: string | Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}
