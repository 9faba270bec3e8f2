/**
 * A fast reader for the plain subset of YAML that pipeline files are almost
 * always written in: block mappings and sequences, one-line flow `[...]` and
 * `{...}`, one-line plain and quoted scalars, comments, printable ASCII.
 * Anything else (anchors, tags, block scalars, multi-line scalars, duplicate
 * keys, floats, odd keys, syntax errors...) returns null and the caller uses
 * the full `yaml` parser, so every error and every unusual document is
 * handled by the same code as before. What this reader returns equals what
 * `yaml` returns, value and positions (test/pipeline-parser/yaml-plain.test.ts
 * compares them on the fixtures and on thousands of mutated documents).
 *
 * Why: the `yaml` library's lexer, parser and composer, run once on cold
 * code, were most of `hodei validate`'s own time on a 200-stage file.
 */

/** Where a node is written: its key (for a mapping entry or a list item) and its value. */
export interface NodeOffsets {
  keyOffset: number;
  valueOffset: number;
}

export interface PlainYaml {
  value: unknown;
  rootOffset: number;
  /** By path (segments joined with NUL). */
  offsets: Map<string, NodeOffsets>;
  /** Paths (joined with NUL) of the sequences, where a path segment is an index. */
  sequences: Set<string>;
}

/** Thrown inside the reader when the text leaves the subset; never escapes `readPlainYaml`. */
class OutsideSubset extends Error {}

const SEP = "\u0000";
const PLAIN_KEY = /[A-Za-z0-9_][A-Za-z0-9_./-]*:(?=[ \n]|$)/y;
const FLOW_KEY = /[A-Za-z0-9_][A-Za-z0-9_./-]*: /y;
const NUMBERISH = [
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
];

interface Line {
  indent: number;
  /** Offset of the first character after the indentation. */
  start: number;
  /** Offset of the line's end (its newline or the end of the text). */
  end: number;
}

/** The document's value and positions, or null when the text is outside the subset. */
export function readPlainYaml(text: string): PlainYaml | null {
  // Printable ASCII and newlines only: no tabs, CR, BOM or other Unicode line breaks to interpret.
  if (/[^\n\x20-\x7e]/.test(text)) return null;
  try {
    return new Reader(text).document();
  } catch (e) {
    if (e instanceof OutsideSubset) return null;
    throw e;
  }
}

class Reader {
  private readonly lines: Line[] = [];
  private i = 0;
  private readonly offsets = new Map<string, NodeOffsets>();
  private readonly sequences = new Set<string>();

  constructor(private readonly text: string) {
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf("\n", start);
      if (end === -1) end = text.length;
      let content = start;
      while (content < end && text.charCodeAt(content) === 32) content++;
      const first = text[content];
      if (content < end && first !== "#") {
        // Directives and document markers are for the full parser.
        if (content === start && (first === "%" || text.startsWith("---", start) || text.startsWith("...", start))) throw new OutsideSubset();
        this.lines.push({ indent: content - start, start: content, end });
      }
      start = end + 1;
    }
  }

  document(): PlainYaml {
    const first = this.lines[0];
    if (!first || this.isSeqItem(first)) throw new OutsideSubset();
    const value = this.map(first.indent, "");
    if (this.i !== this.lines.length) throw new OutsideSubset();
    return { value, rootOffset: first.start, offsets: this.offsets, sequences: this.sequences };
  }

  private isSeqItem(line: Line): boolean {
    return this.text.charCodeAt(line.start) === 45 /* - */ && (line.start + 1 === line.end || this.text.charCodeAt(line.start + 1) === 32);
  }

  private map(indent: number, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let line = this.lines[this.i]; line && line.indent >= indent; line = this.lines[this.i]) {
      if (line.indent > indent || this.isSeqItem(line)) throw new OutsideSubset();
      const { key, after } = this.blockKey(line);
      if (Object.hasOwn(out, key) || key === "__proto__") throw new OutsideSubset();
      const childPath = path === "" ? key : `${path}${SEP}${key}`;
      const rest = this.skipSpaces(after, line.end);
      if (rest === line.end || this.text[rest] === "#") {
        this.i++;
        const next = this.lines[this.i];
        if (next && next.indent > indent) {
          this.offsets.set(childPath, { keyOffset: line.start, valueOffset: next.start });
          out[key] = this.isSeqItem(next) ? this.seq(next.indent, childPath) : this.map(next.indent, childPath);
        } else if (next && next.indent === indent && this.isSeqItem(next)) {
          this.offsets.set(childPath, { keyOffset: line.start, valueOffset: next.start });
          out[key] = this.seq(indent, childPath);
        } else {
          // An empty value: null, located at its key.
          this.offsets.set(childPath, { keyOffset: line.start, valueOffset: line.start });
          out[key] = null;
        }
      } else {
        this.offsets.set(childPath, { keyOffset: line.start, valueOffset: rest });
        out[key] = this.inlineValue(rest, line.end, childPath);
      }
    }
    return out;
  }

  private seq(indent: number, path: string): unknown[] {
    this.sequences.add(path);
    const out: unknown[] = [];
    for (let line = this.lines[this.i]; line && line.indent >= indent; line = this.lines[this.i]) {
      if (line.indent > indent) throw new OutsideSubset();
      if (!this.isSeqItem(line)) break;
      const at = this.skipSpaces(line.start + 1, line.end);
      if (at === line.end || at === line.start + 1 || this.text[at] === "#") throw new OutsideSubset();
      const itemPath = `${path}${SEP}${out.length}`;
      this.offsets.set(itemPath, { keyOffset: at, valueOffset: at });
      out.push(this.inlineValue(at, line.end, itemPath));
    }
    return out;
  }

  /** A value that starts and ends on this line, then only spaces or a comment. */
  private inlineValue(at: number, end: number, path: string): unknown {
    const { value, next } = this.flowValue(at, end, path, false);
    const rest = this.skipSpaces(next, end);
    if (rest !== end && !(this.text[rest] === "#" && rest > next)) throw new OutsideSubset();
    this.i++;
    const following = this.lines[this.i];
    // A more indented line after a one-line value would continue it (or be an error): not ours.
    const current = this.lines[this.i - 1] as Line;
    if (following && following.indent > current.indent) throw new OutsideSubset();
    return value;
  }

  private flowValue(at: number, end: number, path: string, inFlow: boolean): { value: unknown; next: number } {
    const c = this.text[at];
    if (c === "[") return this.flowSeq(at, end, path);
    if (c === "{") return this.flowMap(at, end, path);
    if (c === '"' || c === "'") return this.quoted(at, end);
    return this.plain(at, end, inFlow);
  }

  private flowSeq(open: number, end: number, path: string): { value: unknown[]; next: number } {
    this.sequences.add(path);
    const out: unknown[] = [];
    let at = this.skipSpaces(open + 1, end);
    if (this.text[at] === "]") return { value: out, next: at + 1 };
    for (;;) {
      const itemPath = `${path}${SEP}${out.length}`;
      this.offsets.set(itemPath, { keyOffset: at, valueOffset: at });
      const item = this.flowValue(at, end, itemPath, true);
      out.push(item.value);
      at = this.skipSpaces(item.next, end);
      const c = this.text[at];
      if (c === "]") return { value: out, next: at + 1 };
      if (c !== "," || at >= end) throw new OutsideSubset();
      at = this.skipSpaces(at + 1, end);
      if (at >= end || this.text[at] === "]") throw new OutsideSubset();
    }
  }

  private flowMap(open: number, end: number, path: string): { value: Record<string, unknown>; next: number } {
    const out: Record<string, unknown> = {};
    let at = this.skipSpaces(open + 1, end);
    if (this.text[at] === "}") return { value: out, next: at + 1 };
    for (;;) {
      FLOW_KEY.lastIndex = at;
      if (!FLOW_KEY.test(this.text) || FLOW_KEY.lastIndex > end) throw new OutsideSubset();
      const key = this.text.slice(at, FLOW_KEY.lastIndex - 2);
      if (typeof resolvePlain(key) !== "string" || Object.hasOwn(out, key) || key === "__proto__") throw new OutsideSubset();
      const valueAt = this.skipSpaces(FLOW_KEY.lastIndex, end);
      if (valueAt >= end || ",}".includes(this.text[valueAt] ?? "")) throw new OutsideSubset();
      const childPath = `${path}${SEP}${key}`;
      this.offsets.set(childPath, { keyOffset: at, valueOffset: valueAt });
      const item = this.flowValue(valueAt, end, childPath, true);
      out[key] = item.value;
      at = this.skipSpaces(item.next, end);
      const c = this.text[at];
      if (c === "}") return { value: out, next: at + 1 };
      if (c !== "," || at >= end) throw new OutsideSubset();
      at = this.skipSpaces(at + 1, end);
      if (at >= end || this.text[at] === "}") throw new OutsideSubset();
    }
  }

  private quoted(at: number, end: number): { value: string; next: number } {
    const q = this.text[at] as string;
    if (q === '"') {
      const close = this.text.indexOf('"', at + 1);
      if (close === -1 || close >= end) throw new OutsideSubset();
      const body = this.text.slice(at + 1, close);
      if (body.includes("\\")) throw new OutsideSubset();
      return { value: body, next: close + 1 };
    }
    let i = at + 1;
    for (;;) {
      const close = this.text.indexOf("'", i);
      if (close === -1 || close >= end) throw new OutsideSubset();
      if (this.text[close + 1] === "'") {
        i = close + 2;
        continue;
      }
      return { value: this.text.slice(at + 1, close).replace(/''/g, "'"), next: close + 1 };
    }
  }

  private plain(at: number, end: number, inFlow: boolean): { value: unknown; next: number } {
    const c = this.text[at] ?? "";
    // Indicators that start something other than a plain scalar (or a "-x" that is one only sometimes).
    if ("&*!|>%@`?:,[]{}#'\"".includes(c) || (c === "-" && !/[0-9]/.test(this.text[at + 1] ?? ""))) throw new OutsideSubset();
    let stop = end;
    if (inFlow) {
      for (let j = at; j < end; j++) {
        const ch = this.text[j];
        if (ch === "," || ch === "]" || ch === "}") {
          stop = j;
          break;
        }
      }
    } else {
      const comment = this.text.indexOf(" #", at);
      if (comment !== -1 && comment < end) stop = comment;
    }
    let last = stop;
    while (last > at && this.text.charCodeAt(last - 1) === 32) last--;
    const raw = this.text.slice(at, last);
    if (raw === "" || raw.includes(": ") || raw.endsWith(":")) throw new OutsideSubset();
    if (inFlow && /[[{#:]/.test(raw)) throw new OutsideSubset();
    return { value: resolvePlain(raw), next: last };
  }

  private blockKey(line: Line): { key: string; after: number } {
    const c = this.text[line.start];
    if (c === '"' || c === "'") {
      const { value, next } = this.quoted(line.start, line.end);
      if (this.text[next] !== ":" || (next + 1 < line.end && this.text[next + 1] !== " ")) throw new OutsideSubset();
      return { key: value, after: next + 1 };
    }
    PLAIN_KEY.lastIndex = line.start;
    if (!PLAIN_KEY.test(this.text) || PLAIN_KEY.lastIndex > line.end) throw new OutsideSubset();
    const key = this.text.slice(line.start, PLAIN_KEY.lastIndex - 1);
    if (typeof resolvePlain(key) !== "string") throw new OutsideSubset();
    return { key, after: PLAIN_KEY.lastIndex };
  }

  private skipSpaces(at: number, end: number): number {
    let i = at;
    while (i < end && this.text.charCodeAt(i) === 32) i++;
    return i;
  }
}

/**
 * A plain scalar as YAML 1.2's core schema reads it: null, booleans and
 * canonical integers; any other number form is left to the full parser.
 */
function resolvePlain(raw: string): unknown {
  if (/^(?:~|[Nn]ull|NULL)$/.test(raw)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(raw)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(raw)) return false;
  if (/^(?:0|-?[1-9][0-9]{0,14})$/.test(raw)) return Number(raw);
  if (NUMBERISH.some((r) => r.test(raw))) throw new OutsideSubset();
  return raw;
}

/** Joins path segments as the reader's maps key them. */
export function pathKey(segments: readonly (string | number)[]): string {
  return segments.map(String).join(SEP);
}
