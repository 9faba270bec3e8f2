import { expect, it } from "vitest";
import { SecretMasker, maskPatterns } from "../../src/agent/masker.js";

const SECRET = "s3cr3t-Value/with+chars&=";

function streamed(secrets: string[], parts: string[]): string {
  const m = new SecretMasker(secrets);
  return parts.map((p) => m.push(p)).join("") + m.flush();
}

it("masks a secret printed whole", () => {
  expect(streamed([SECRET], [`token=${SECRET}\n`])).toBe("token=***\n");
});

it("masks a secret split over any two writes", () => {
  const text = `before ${SECRET} after\n`;
  for (let i = 1; i < text.length; i++) {
    const out = streamed([SECRET], [text.slice(0, i), text.slice(i)]);
    expect(out, `split at ${i}`).toBe("before *** after\n");
  }
});

it("masks a secret split into single characters, and passes plain text on without holding it", () => {
  const m = new SecretMasker([SECRET]);
  let out = "";
  for (const ch of `x${SECRET}y`) out += m.push(ch);
  expect(out + m.flush()).toBe("x***y");
  expect(m.push("plain text that is no prefix\n")).toBe("plain text that is no prefix\n");
});

it("masks base64 at all three alignments, URL-safe base64 and URL-encoding", () => {
  for (const prefix of ["", "a", "ab", "abc"]) {
    const encoded = Buffer.from(`${prefix}${SECRET}tail`).toString("base64");
    const out = streamed([SECRET], [encoded]);
    const core = maskPatterns([SECRET]).filter((p) => encoded.includes(p));
    expect(core.length, `prefix ${prefix}`).toBeGreaterThan(0);
    expect(out).toContain("***");
    // What is left of the encoded text cannot be decoded back to the secret.
    expect(Buffer.from(out.replace(/\*\*\*/g, ""), "base64").toString("latin1")).not.toContain(SECRET.slice(2, -2));
  }
  expect(streamed([SECRET], [Buffer.from(SECRET).toString("base64url")])).not.toContain(
    Buffer.from(SECRET).toString("base64url").slice(4, -4),
  );
  expect(streamed([SECRET], [`?q=${encodeURIComponent(SECRET)}&x=1`])).toBe("?q=***&x=1");
  expect(streamed(["a b&c=d"], [`q=${new URLSearchParams({ k: "a b&c=d" }).toString().slice(2)}`])).toBe("q=***");
});

it("masks a multi-line secret whole and line by line", () => {
  const key = "-----BEGIN KEY-----\nAAAABBBBCCCC\nDDDDEEEEFFFF\n-----END KEY-----";
  expect(streamed([key], [`${key}\n`])).toBe("***\n");
  expect(streamed([key], ["line: DDDDEEEEFFFF\n"])).toBe("line: ***\n");
  expect(streamed([key], ["AAAABBBB", "CCCC and more\n"])).toBe("*** and more\n");
});

it("prefers the longer of two secrets that share a start", () => {
  expect(streamed(["abcd", "abcdefgh"], ["xx abcd", "efgh yy"])).toBe("xx *** yy");
  expect(streamed(["abcd", "abcdefgh"], ["xx abcd", " yy"])).toBe("xx *** yy");
});

it("is a no-op without secrets", () => {
  const m = new SecretMasker([""]);
  expect(m.push("anything")).toBe("anything");
  expect(m.flush()).toBe("");
});
