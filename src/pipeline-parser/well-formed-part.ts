/**
 * The well-formed part of a pipeline that fails the schema, so the semantic
 * rules can still check it and `hodei validate` reports every error of a file
 * at once (a wrong type in one stage does not hide an unknown `needs` in
 * another).
 *
 * Each value the schema rejects is left out (an unknown key, a bad list item,
 * a stage that is not a mapping); a required key that is missing gets a
 * placeholder, so a stage without `run` still exists for the `needs` of
 * others. Leaving a value out can make its parent fail in turn (a list left
 * empty), so this repeats until the value passes the schema. Positions of
 * what the semantic rules report are mapped back through the left-out list
 * items, so they still point at the right node.
 */
import type { ErrorObject } from "ajv";
import { schemaErrors } from "./schema.js";
import { pointerToPath, type PathSegment, type SourceDoc } from "./source-doc.js";
import type { PipelineDefinition } from "./types.js";

export interface WellFormedPart {
  /** The document as the semantic rules see it: its value passes the schema; `locate` takes its paths. */
  doc: SourceDoc;
  definition: PipelineDefinition;
  /** True if something at or under `path` (of the original document) was left out or replaced. */
  damaged(path: readonly PathSegment[]): boolean;
  /** True if the value at `path` is a placeholder (the original was missing or not even the right type). */
  replaced(path: readonly PathSegment[]): boolean;
}

/** Placeholders for required keys: they satisfy the schema and make no semantic rule fire. */
const PLACEHOLDERS: Record<string, unknown> = { stages: {}, run: ":" };

const MAX_ROUNDS = 8;

/** The part of `doc` that passes the schema, or null when nothing sensible is left (the root itself is bad). */
export function wellFormedPart(doc: SourceDoc, firstErrors: readonly ErrorObject[]): WellFormedPart | null {
  const removed = new Set<string>();
  const filled = new Map<string, unknown>();
  let built = rebuild(doc.value, removed, filled);
  let errors = firstErrors.filter((e) => !harmless(e));
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (errors.length === 0) return finish(doc, built, removed, filled);
    let progress = false;
    for (const e of errors) {
      const target = badPath(e);
      const original = built.toOriginal(target.path);
      if (original === null || original.length === 0) return null;
      const key = pointer(original);
      if (target.fill !== undefined) {
        if (!filled.has(key)) progress = true;
        filled.set(key, target.fill);
      } else if (!removed.has(key)) {
        removed.add(key);
        progress = true;
      }
    }
    if (!progress) return null;
    built = rebuild(doc.value, removed, filled);
    errors = schemaErrors(built.value).filter((e) => !harmless(e));
  }
  return null;
}

/** Errors the semantic rules do not mind: `stages: {}` (reported by the schema) leaves nothing to check. */
function harmless(e: ErrorObject): boolean {
  return e.keyword === "minProperties" && e.instancePath === "/stages";
}

/** The path (in the checked value's coordinates) to leave out, or to fill with a placeholder. */
function badPath(e: ErrorObject): { path: string[]; fill?: unknown } {
  const path = pointerToPath(e.instancePath);
  if (e.keyword === "additionalProperties") return { path: [...path, String((e.params as { additionalProperty: string }).additionalProperty)] };
  const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) return { path: [...path, propertyName] };
  if (e.keyword === "propertyNames") return { path: [...path, String((e.params as { propertyName?: string }).propertyName)] };
  if (e.keyword === "uniqueItems") return { path: [...path, String((e.params as { j: number }).j)] };
  if (e.keyword === "required") {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    if (missing in PLACEHOLDERS) return { path: [...path, missing], fill: PLACEHOLDERS[missing] };
  }
  // A stage that is not a mapping still exists for the needs of others.
  if (path.length === 2 && path[0] === "stages" && e.keyword === "type") return { path, fill: { run: PLACEHOLDERS.run } };
  return { path };
}

interface Rebuilt {
  value: unknown;
  /** Maps a path of the rebuilt value to the original's (list items left out shift indices); null if it is not there. */
  toOriginal(path: readonly PathSegment[]): PathSegment[] | null;
}

function rebuild(value: unknown, removed: ReadonlySet<string>, filled: ReadonlyMap<string, unknown>): Rebuilt {
  // For each list (by its original pointer): the original index of each kept item.
  const kept = new Map<string, number[]>();
  const copy = (v: unknown, at: PathSegment[]): unknown => {
    if (Array.isArray(v)) {
      const indices: number[] = [];
      const out: unknown[] = [];
      v.forEach((item, i) => {
        const p = [...at, i];
        if (removed.has(pointer(p))) return;
        indices.push(i);
        out.push(copy(item, p));
      });
      kept.set(pointer(at), indices);
      return out;
    }
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const p = [...at, k];
        if (!removed.has(pointer(p))) out[k] = copy(item, p);
      }
      // A placeholder replaces what is there, or fills a missing key.
      for (const [p, fill] of filled) {
        const path = pointerToPath(p);
        if (path.length === at.length + 1 && pointer(path.slice(0, -1)) === pointer(at)) out[String(path.at(-1))] = structuredClone(fill);
      }
      return out;
    }
    return v;
  };
  const rebuilt = copy(value, []);
  const toOriginal = (path: readonly PathSegment[]): PathSegment[] | null => {
    const out: PathSegment[] = [];
    let node: unknown = rebuilt;
    for (const seg of path) {
      if (Array.isArray(node)) {
        const i = Number(seg);
        const original = kept.get(pointer(out))?.[i];
        if (original === undefined) return null;
        out.push(original);
        node = node[i];
      } else {
        out.push(String(seg));
        node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[String(seg)] : undefined;
      }
    }
    return out;
  };
  return { value: rebuilt, toOriginal };
}

function finish(doc: SourceDoc, built: Rebuilt, removed: ReadonlySet<string>, filled: ReadonlyMap<string, unknown>): WellFormedPart {
  const touched = [...removed, ...filled.keys()];
  return {
    doc: {
      file: doc.file,
      value: built.value,
      locate: (path, target) => doc.locate(built.toOriginal(path) ?? path, target),
    },
    definition: built.value as PipelineDefinition,
    damaged: (path) => {
      const prefix = pointer(path);
      return touched.some((p) => p === prefix || p.startsWith(`${prefix}/`));
    },
    replaced: (path) => filled.has(pointer(path)),
  };
}

function pointer(path: readonly PathSegment[]): string {
  return path.map((s) => `/${String(s).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}
