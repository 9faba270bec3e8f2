/**
 * A value that has every field a JSON schema requires, with the fields a
 * test cares about given explicitly (`given`, merged deeply). Used to answer
 * like a forge does (GitHub's repository objects require ~80 fields) while
 * the contract check still decides whether the answer is valid.
 */
type Json = Record<string, unknown>;

export function sampleOf(schema: Json, given: unknown = undefined): unknown {
  if (schema.oneOf || schema.anyOf) {
    const options = (schema.oneOf ?? schema.anyOf) as Json[];
    return sampleOf(options[0] ?? {}, given);
  }
  if (schema.allOf) {
    const merged: Json = { type: "object", properties: {}, required: [] };
    for (const part of schema.allOf as Json[]) {
      Object.assign(merged.properties as Json, part.properties ?? {});
      (merged.required as string[]).push(...((part.required as string[] | undefined) ?? []));
    }
    return sampleOf(merged, given);
  }
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== "null") : (schema.type as string | undefined);
  if (given !== undefined && (typeof given !== "object" || given === null || Array.isArray(given))) {
    if (Array.isArray(given) && schema.items) return given.map((g) => sampleOf(schema.items as Json, g));
    return given;
  }
  if (type === "object" || schema.properties) {
    const out: Json = {};
    const props = (schema.properties ?? {}) as Record<string, Json>;
    const wanted = (given ?? {}) as Json;
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in wanted)) out[name] = sampleOf(props[name] ?? {}, undefined);
    }
    for (const [name, value] of Object.entries(wanted)) out[name] = props[name] ? sampleOf(props[name], value) : value;
    return out;
  }
  if (schema.nullable === true || (Array.isArray(schema.type) && (schema.type as string[]).includes("null"))) return null;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  switch (type) {
    case "array":
      return [];
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return false;
    case "string":
      if (schema.format === "uri") return "https://forge.invalid/x";
      if (schema.format === "date-time") return "2026-01-01T00:00:00Z";
      if (schema.format === "email") return "someone@forge.invalid";
      return "x";
    default:
      return null;
  }
}
