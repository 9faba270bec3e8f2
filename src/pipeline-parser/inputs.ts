/**
 * `on.manual.inputs`: typed values a person gives when starting a run by
 * hand. The file's declarations are checked with the rest of the pipeline
 * (semantic.ts, `definitionProblems`); what a run was given is resolved here
 * against them: each value checked against its type, defaults filled in,
 * and everything wrong named at once. Values reach stages as text, through
 * `${{ inputs.NAME }}` and `HODEI_INPUT_NAME`.
 */
import type { InputDefinition } from "./types.js";

export type GivenInputs = Readonly<Record<string, string | number | boolean>>;

export interface ResolvedInputs {
  values: Record<string, string>;
  problems: string[];
}

/** `HODEI_INPUT_RELEASE_NOTES` for `release-notes`. */
export function inputEnvName(name: string): string {
  return `HODEI_INPUT_${name.toUpperCase().replace(/-/g, "_")}`;
}

/** The text of `value` as an input of `def`, or why it is not one. */
function valueOf(name: string, def: InputDefinition, value: string | number | boolean): { text: string } | { problem: string } {
  const type = def.type ?? "string";
  const shown = JSON.stringify(value);
  switch (type) {
    case "string":
      return typeof value === "string" ? { text: value } : { problem: `input ${JSON.stringify(name)} is a string, got ${shown}` };
    case "number": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
      return Number.isFinite(n) ? { text: String(n) } : { problem: `input ${JSON.stringify(name)} is a number, got ${shown}` };
    }
    case "boolean":
      if (value === true || value === "true") return { text: "true" };
      if (value === false || value === "false") return { text: "false" };
      return { problem: `input ${JSON.stringify(name)} is a boolean (true or false), got ${shown}` };
    case "choice": {
      const options = def.options ?? [];
      return typeof value === "string" && options.includes(value)
        ? { text: value }
        : { problem: `input ${JSON.stringify(name)} is one of ${options.map((o) => JSON.stringify(o)).join(", ")}, got ${shown}` };
    }
  }
}

/** Problems of the declarations themselves, by input name (the pipeline check reports them with positions). */
export function declarationProblems(name: string, def: InputDefinition): { key: "options" | "default" | "type"; message: string }[] {
  const problems: { key: "options" | "default" | "type"; message: string }[] = [];
  const type = def.type ?? "string";
  if (type === "choice" && def.options === undefined) problems.push({ key: "type", message: `input ${JSON.stringify(name)} is a choice and needs "options"` });
  if (type !== "choice" && def.options !== undefined) problems.push({ key: "options", message: `"options" apply to inputs of type choice only (input ${JSON.stringify(name)} is a ${type})` });
  if (def.default !== undefined && (type !== "choice" || def.options !== undefined)) {
    const checked = valueOf(name, def, def.default);
    if ("problem" in checked) problems.push({ key: "default", message: `the default does not fit: ${checked.problem}` });
  }
  return problems;
}

/**
 * The inputs a run sees. For a manual run (`given` present) every declared
 * input is checked: required ones present, values of their type, no names
 * the file does not declare. Other events get the defaults and no problems.
 */
export function resolveInputs(declared: Readonly<Record<string, InputDefinition>> | undefined, given: GivenInputs | undefined): ResolvedInputs {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  const decls = declared ?? {};
  for (const [name, def] of Object.entries(decls)) {
    const value = given?.[name];
    if (value === undefined) {
      if (def.default !== undefined) values[name] = String(def.default);
      else {
        values[name] = "";
        if (given && def.required) problems.push(`input ${JSON.stringify(name)} is required${def.description ? ` (${def.description})` : ""}`);
      }
      continue;
    }
    const checked = valueOf(name, def, value);
    if ("problem" in checked) problems.push(checked.problem);
    else values[name] = checked.text;
  }
  for (const name of Object.keys(given ?? {})) {
    if (!Object.hasOwn(decls, name)) {
      const known = Object.keys(decls);
      problems.push(`unknown input ${JSON.stringify(name)}: ${known.length > 0 ? `the pipeline declares ${known.map((k) => JSON.stringify(k)).join(", ")}` : "the pipeline declares no on.manual.inputs"}`);
    }
  }
  return { values, problems };
}
