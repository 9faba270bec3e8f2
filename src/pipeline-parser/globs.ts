import picomatch from "picomatch";

const OPTIONS = { dot: true, strictBrackets: true } as const;
const cache = new Map<string, (s: string) => boolean>();

const problems = new Map<string, string | null>();

/** Why `pattern` is not a usable glob, or null if it is. */
export function globProblem(pattern: string): string | null {
  // A pipeline repeats the same few patterns across its stages.
  let problem = problems.get(pattern);
  if (problem === undefined) {
    problem = checkGlob(pattern);
    if (problems.size > 1000) problems.clear();
    problems.set(pattern, problem);
  }
  return problem;
}

/**
 * Patterns of names, `/`, `.` and `*` only: nothing picomatch can refuse
 * (brackets, braces, parens, extglobs, escapes), so its parser is skipped
 * for the patterns most pipelines use.
 */
const PLAIN_GLOB = /^[A-Za-z0-9_./*-]{1,1000}$/;

function checkGlob(pattern: string): string | null {
  if (pattern.trim() === "") return "a glob must not be empty";
  if (PLAIN_GLOB.test(pattern)) return null;
  try {
    picomatch.makeRe(pattern, OPTIONS);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Whether `value` matches any of `patterns` (picomatch, `dot: true`). */
export function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matcher(p)(value));
}

function matcher(pattern: string): (s: string) => boolean {
  let m = cache.get(pattern);
  if (!m) {
    m = picomatch(pattern, OPTIONS);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, m);
  }
  return m;
}
