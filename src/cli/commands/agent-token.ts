/**
 * `hodei agent-token create|list|revoke`: the registration tokens standalone
 * agents join with (`HODEI_AGENT_TOKEN=… hodei agent --server …`). The token
 * is printed once, by `create`; the server keeps only its hash.
 */
import { ApiClient } from "../api-client.js";
import { table } from "../table.js";
import { UsageError } from "../usage-error.js";

interface Common {
  server: string;
  token: string | undefined;
  json: boolean;
  stdout: NodeJS.WritableStream;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds in `90m`, `12h`, `30d`, `2w` (or a sum like `1d12h`); null if not a duration. */
export function parseLifetime(text: string): number | null {
  if (!/^(\d+[smhdw])+$/.test(text)) return null;
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * (UNITS[unit ?? ""] ?? 0);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : null;
}

export async function agentTokenCreateCommand(o: Common & { description?: string; expiresIn?: string }): Promise<number> {
  let expiresInSeconds: number | undefined;
  if (o.expiresIn !== undefined) {
    const seconds = parseLifetime(o.expiresIn);
    if (seconds === null) throw new UsageError(`--expires-in expects a duration like 12h, 30d or 2w, got ${JSON.stringify(o.expiresIn)}`);
    expiresInSeconds = seconds;
  }
  const created = await new ApiClient(o.server, o.token).createAgentToken({ description: o.description, expiresInSeconds });
  if (o.json) {
    o.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
    return 0;
  }
  o.stdout.write(
    [
      `registration token ${created.id} created${created.expiresAt ? `, expires ${when(created.expiresAt)}` : ", does not expire"}`,
      "",
      `  ${created.token}`,
      "",
      "It is shown only now. An agent joins with:",
      "  HODEI_AGENT_TOKEN=<token> hodei agent --server HOST:9090 --ca ca.crt",
      `Revoke it with: hodei agent-token revoke ${created.id}`,
      "",
    ].join("\n"),
  );
  return 0;
}

export async function agentTokenListCommand(o: Common): Promise<number> {
  const { tokens } = await new ApiClient(o.server, o.token).listAgentTokens();
  if (o.json) {
    o.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`);
    return 0;
  }
  if (tokens.length === 0) {
    o.stdout.write("no registration tokens\n");
    return 0;
  }
  const now = Date.now();
  o.stdout.write(
    table(
      ["ID", "STATUS", "CREATED", "EXPIRES", "LAST USED", "DESCRIPTION"],
      tokens.map((t) => [
        t.id,
        t.revokedAt ? "revoked" : t.expiresAt && Date.parse(t.expiresAt) <= now ? "expired" : "active",
        when(t.createdAt),
        t.expiresAt ? when(t.expiresAt) : "never",
        t.lastUsedAt ? when(t.lastUsedAt) : "never",
        t.description,
      ]),
    ),
  );
  return 0;
}

export async function agentTokenRevokeCommand(o: Common & { id: string }): Promise<number> {
  await new ApiClient(o.server, o.token).revokeAgentToken(o.id);
  o.stdout.write(o.json ? `${JSON.stringify({ id: o.id, revoked: true })}\n` : `registration token ${o.id} revoked\n`);
  return 0;
}

function when(iso: string): string {
  return iso.replace("T", " ").slice(0, 19);
}
