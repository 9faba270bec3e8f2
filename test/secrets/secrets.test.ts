/** The secrets key (env or generated 0600 file) and AES-256-GCM sealing. */
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { open, seal } from "../../src/secrets/cipher.js";
import { loadSecretsKey, parseSecretsKey, SecretsKeyError } from "../../src/secrets/key.js";
import { tempDir } from "../helpers/databases.js";

describe("secrets key", () => {
  it("is generated once into the data dir with mode 0600 and read back the same", async () => {
    const dir = await tempDir();
    const first = await loadSecretsKey({ dataDir: dir });
    const file = path.join(dir, "secrets.key");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await loadSecretsKey({ dataDir: dir });
    expect(second.key.equals(first.key)).toBe(true);
    expect(first.key).toHaveLength(32);
    expect(await readFile(file, "utf8")).not.toContain(first.id);
  });

  it("HODEI_SECRETS_KEY wins over the file and accepts hex or base64; anything else is refused", async () => {
    const dir = await tempDir();
    const hex = "01".repeat(32);
    expect((await loadSecretsKey({ envKey: hex, dataDir: dir })).key.equals(Buffer.alloc(32, 1))).toBe(true);
    expect(parseSecretsKey(Buffer.alloc(32, 1).toString("base64"), "x").id).toBe(parseSecretsKey(hex, "x").id);
    expect(() => parseSecretsKey("short", "HODEI_SECRETS_KEY")).toThrow(SecretsKeyError);
    await writeFile(path.join(dir, "secrets.key"), "garbage");
    await expect(loadSecretsKey({ dataDir: dir })).rejects.toThrow(/secrets.key: expected 32 bytes/);
  });
});

describe("sealing", () => {
  const key = Buffer.alloc(32, 7);
  it("round-trips, and fails with another key, another repo/name or a flipped byte", () => {
    const sealed = seal(key, "acme/widgets\0TOKEN", "hunter2");
    expect(sealed.ciphertext.toString("utf8")).not.toContain("hunter2");
    expect(open(key, "acme/widgets\0TOKEN", sealed)).toBe("hunter2");
    expect(() => open(Buffer.alloc(32, 8), "acme/widgets\0TOKEN", sealed)).toThrow();
    expect(() => open(key, "acme/other\0TOKEN", sealed)).toThrow();
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => open(key, "acme/widgets\0TOKEN", { ...sealed, ciphertext: flipped })).toThrow();
  });

  it("uses a fresh nonce each time", () => {
    const a = seal(key, "r\0N", "same");
    const b = seal(key, "r\0N", "same");
    expect(a.nonce.equals(b.nonce)).toBe(false);
  });
});
