/**
 * The key that seals repository secrets: from HODEI_SECRETS_KEY (32 bytes as
 * base64 or hex), or generated once into HODEI_DATA_DIR/secrets.key with mode
 * 0600. Losing the key loses the secrets, which is the point of keeping it
 * out of the database.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export interface SecretsKey {
  readonly key: Buffer;
  /** A short fingerprint of the key (not the key), stored beside each sealed row. */
  readonly id: string;
}

export class SecretsKeyError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = "SecretsKeyError";
  }
}

/** Parses 32 bytes given as 64 hex digits or base64; throws SecretsKeyError otherwise. */
export function parseSecretsKey(text: string, source: string): SecretsKey {
  const trimmed = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (bytes.length !== 32) {
    throw new SecretsKeyError(source, `expected 32 bytes as 64 hex digits or base64, got ${bytes.length} bytes`);
  }
  return { key: bytes, id: createHash("sha256").update(bytes).digest("hex").slice(0, 16) };
}

export async function loadSecretsKey(options: { envKey?: string; dataDir: string }): Promise<SecretsKey> {
  if (options.envKey) return parseSecretsKey(options.envKey, "HODEI_SECRETS_KEY");
  const file = path.join(options.dataDir, "secrets.key");
  try {
    return parseSecretsKey(await readFile(file, "utf8"), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(options.dataDir, { recursive: true });
  try {
    // "wx": of two processes starting at once, one writes and the other reads its key.
    await writeFile(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return parseSecretsKey(await readFile(file, "utf8"), file);
}
