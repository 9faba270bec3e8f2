/**
 * Masks secrets in a stage's output before it leaves the agent (SPEC 6).
 *
 * Each secret is looked for as written, line by line when it spans lines, in
 * base64 (standard and URL-safe, at each of the three byte alignments it can
 * have inside a longer encoded text) and URL-encoded. The masker is a stream:
 * it holds back the shortest tail of what it was given that could still grow
 * into a secret, so a secret split across writes or batches is masked too.
 */
export const MASK = "***";

/** Derived forms shorter than this are not masked: they would mask ordinary text. */
const MIN_DERIVED = 4;

export function maskPatterns(secrets: readonly string[]): string[] {
  const patterns = new Set<string>();
  const derived = (p: string) => {
    if (p.length >= MIN_DERIVED) patterns.add(p);
  };
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    patterns.add(secret);
    const lines = secret.split(/\r?\n/).map((l) => l.trim());
    if (lines.length > 1) for (const line of lines) derived(line);
    for (const b64 of base64Forms(Buffer.from(secret, "utf8"))) {
      derived(b64);
      derived(b64.replace(/\+/g, "-").replace(/\//g, "_"));
    }
    derived(encodeURIComponent(secret));
    derived(new URLSearchParams({ s: secret }).toString().slice(2));
  }
  // Longest first: where two patterns start at one place, the longer one wins.
  return [...patterns].sort((a, b) => b.length - a.length);
}

/**
 * The base64 characters that depend only on `bytes`, wherever they sit in a
 * longer encoded text: preceded by 0, 1 or 2 other bytes (mod 3).
 */
function base64Forms(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const first = Math.ceil((8 * offset) / 6);
    const last = Math.floor((8 * (offset + bytes.length)) / 6);
    forms.push(encoded.slice(first, last));
  }
  // Encoded on its own, with its padding.
  forms.push(bytes.toString("base64"));
  return forms;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SecretMasker {
  private readonly patterns: string[];
  private readonly regex: RegExp | null;
  private pending = "";

  constructor(secrets: readonly string[]) {
    this.patterns = maskPatterns(secrets);
    this.regex = this.patterns.length > 0 ? new RegExp(this.patterns.map(escapeRegExp).join("|"), "g") : null;
  }

  /** Masks a complete text (nothing held back). */
  mask(text: string): string {
    return this.regex ? text.replace(this.regex, MASK) : text;
  }

  /** Takes more output; returns what can safely be passed on now. */
  push(text: string): string {
    if (!this.regex) return text;
    const all = this.pending + text;
    let cut = all.length - this.heldBack(all);
    this.regex.lastIndex = 0;
    let out = "";
    let from = 0;
    for (let m = this.regex.exec(all); m !== null; m = this.regex.exec(all)) {
      // A match at or after the cut may still grow into a longer pattern: decide later.
      if (m.index >= cut) break;
      out += all.slice(from, m.index) + MASK;
      from = m.index + m[0].length;
      // A match that straddles the cut is complete (see heldBack): pass it on whole.
      if (from > cut) cut = from;
    }
    out += all.slice(from, cut);
    this.pending = all.slice(cut);
    return out;
  }

  /** Everything held back, masked: the stream has ended. */
  flush(): string {
    const rest = this.mask(this.pending);
    this.pending = "";
    return rest;
  }

  /** The length of the longest tail of `text` that is a proper prefix of some pattern. */
  private heldBack(text: string): number {
    let longest = 0;
    for (const p of this.patterns) {
      for (let k = Math.min(p.length - 1, text.length); k > longest; k--) {
        // Cheap first test before comparing the whole prefix.
        if (text.charCodeAt(text.length - 1) !== p.charCodeAt(k - 1)) continue;
        if (text.endsWith(p.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}
