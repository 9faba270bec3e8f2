/**
 * `services:`: containers started beside a docker stage (a database, a
 * queue), reachable from its commands by their names, waited for until they
 * are ready. The parser's part: the rules the schema cannot express, and the
 * planned form providers start (PlannedService).
 */
import { parseDuration } from "./duration.js";
import type { PlannedService, ServiceDefinition } from "./types.js";

export const DEFAULT_READY_TIMEOUT_SECONDS = 60;

/**
 * `command` written as a string, as words: split at unquoted white space;
 * '…' keeps everything, "…" and a backslash outside quotes escape the next
 * character (inside "…" only `"`, `\`, `$` and a backquote). No expansion:
 * there is no shell. Null for an unterminated quote or a trailing backslash.
 */
export function splitWords(text: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (c === "\\") {
      const next = text[i + 1];
      if (next === undefined) return null;
      if (quote === '"' && !'"\\$`'.includes(next)) word = `${word ?? ""}\\`;
      word = `${word ?? ""}${next}`;
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = `${word ?? ""}${c}`;
    }
  }
  if (quote !== null) return null;
  if (word !== null) words.push(word);
  return words;
}

const EXPRESSION = /\$\{\{.*?\}\}/gs;

/**
 * A string `command` as words, each `${{ … }}` kept whole within its word
 * (substituted afterwards, so a matrix value with a space stays one word).
 * Null as splitWords says.
 */
export function commandWords(text: string): string[] | null {
  const expressions: string[] = [];
  const masked = text.replace(EXPRESSION, (e) => `\uE000${expressions.push(e) - 1}\uE000`);
  return splitWords(masked)?.map((w) => w.replace(/\uE000(\d+)\uE000/g, (_, i: string) => expressions[Number(i)] ?? "")) ?? null;
}

/** What is wrong with one service beyond its shape, as [path below the service, message, target] triples. */
export function serviceProblems(name: string, service: ServiceDefinition): [(string | number)[], string, "key" | "value"][] {
  const problems: [(string | number)[], string, "key" | "value"][] = [];
  const quoted = JSON.stringify(name);
  if (typeof service.command === "string" && commandWords(service.command) === null) {
    problems.push([["command"], `"command" of service ${quoted} has an unterminated quote or a trailing backslash`, "value"]);
  }
  const ready = service.ready;
  if (ready !== undefined) {
    if (ready.command !== undefined && ready.port !== undefined) {
      problems.push([["ready"], `"ready" of service ${quoted} takes either "command" or "port", not both`, "key"]);
    } else if (ready.command === undefined && ready.port === undefined && (service.ports ?? []).length === 0) {
      problems.push([["ready"], `"ready" of service ${quoted} needs "command" or "port" (or the service needs "ports")`, "key"]);
    }
    if (ready.timeout !== undefined) {
      const seconds = parseDuration(ready.timeout);
      if (seconds === null) problems.push([["ready", "timeout"], `invalid duration ${JSON.stringify(ready.timeout)}: use 90s, 10m, 1h30m or an integer number of seconds`, "value"]);
      else if (seconds === 0) problems.push([["ready", "timeout"], '"timeout" must be greater than zero', "value"]);
    }
  }
  return problems;
}

/** The services as providers start them, in declared order; `sub` substitutes `${{ matrix.KEY }}`. */
export function planServices(services: Record<string, ServiceDefinition>, sub: (text: string) => string): PlannedService[] {
  return Object.entries(services).map(([name, s]) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.env ?? {})) env[k] = typeof v === "string" ? sub(v) : String(v);
    const command = s.command === undefined ? null : typeof s.command === "string" ? (commandWords(s.command) ?? [s.command]).map(sub) : s.command.map(sub);
    const ports = s.ports ?? [];
    const r = s.ready;
    let ready: PlannedService["ready"] = null;
    if (r?.command !== undefined) ready = { command: typeof r.command === "string" ? ["sh", "-c", sub(r.command)] : r.command.map(sub) };
    else if (r?.port !== undefined) ready = { port: r.port };
    else if (ports[0] !== undefined) ready = { port: ports[0] };
    const timeout = r?.timeout !== undefined ? parseDuration(r.timeout) : null;
    return { name, image: sub(s.image), env, command, ports, ready, readyTimeoutSeconds: timeout || DEFAULT_READY_TIMEOUT_SECONDS };
  });
}
