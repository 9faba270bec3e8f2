/**
 * Compiler-style lines in a stage's log become check annotations (SPEC 4):
 * `path:line[:col]: error|warning: message`.
 */
import type { Annotation } from "./forge.js";

const LINE = /^([^\s:][^:]*):(\d+)(?::(\d+))?:\s*(error|warning):\s*(.+)$/;

export function parseAnnotations(log: string, limit = 500): Annotation[] {
  const out: Annotation[] = [];
  for (const raw of log.split(/\r?\n/)) {
    // eslint-disable-next-line no-control-regex -- colour codes from tools
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "").trim();
    const m = LINE.exec(line);
    if (!m) continue;
    const [, path, lineNo, col, level, message] = m;
    if (!path || !lineNo || !message || path.startsWith("/") || path.split("/").includes("..")) continue;
    out.push({ path: path.replace(/^\.\//, ""), line: Number(lineNo), column: col ? Number(col) : null, level: level === "error" ? "failure" : "warning", message });
    if (out.length >= limit) break;
  }
  return out;
}
