/**
 * Request validation against a forge's own API description: GitHub's
 * OpenAPI 3 (@octokit/openapi generated/api.github.com.json) or Gitea's
 * Swagger 2 (test/fixtures/forge/gitea/swagger.v1.json). A request must match
 * a described path and method, and its JSON body the operation's schema.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  bodySchema: Json | null;
  bodyRequired: boolean;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export class ApiContract {
  private readonly routes: { method: string; pattern: RegExp; template: string }[] = [];
  private readonly validators = new Map<string, ValidateFunction | null>();
  private readonly ajv = addFormats(new Ajv({ strict: false, allErrors: true }));

  private constructor(
    private readonly doc: Json,
    private readonly kind: "openapi" | "swagger",
    private readonly basePath: string,
  ) {
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const [template, item] of Object.entries(paths)) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`);
      for (const method of Object.keys(item)) this.routes.push({ method: method.toUpperCase(), pattern, template });
    }
  }

  static github(): ApiContract {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
    return new ApiContract(JSON.parse(readFileSync(file, "utf8")) as Json, "openapi", "");
  }

  static gitea(): ApiContract {
    const file = new URL("../fixtures/forge/gitea/swagger.v1.json", import.meta.url);
    const doc = JSON.parse(readFileSync(file, "utf8")) as Json;
    return new ApiContract(doc, "swagger", typeof doc.basePath === "string" ? doc.basePath : "");
  }

  /**
   * The operation a request matches, and every way its body (or a query
   * parameter, when `query` is given) breaks the description (empty when valid).
   */
  check(method: string, urlPath: string, body: unknown, query?: URLSearchParams): { operationId: string | null; errors: string[] } {
    const route = this.route(method, urlPath);
    if (typeof route === "string") return { operationId: null, errors: [route] };
    const op = this.operation(route.template, route.method);
    const queryErrors = query ? this.checkQuery(route.template, route.method, op.operationId, query) : [];
    if (queryErrors.length > 0) return { operationId: op.operationId, errors: queryErrors };
    const key = `${route.method} ${route.template}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = op.bodySchema ? this.ajv.compile(this.inline(op.bodySchema, new Set())) : null;
      this.validators.set(key, validate);
    }
    if (!validate) return { operationId: op.operationId, errors: body === undefined ? [] : [`${op.operationId} takes no body`] };
    if (body === undefined) return { operationId: op.operationId, errors: op.bodyRequired ? [`${op.operationId} needs a body`] : [] };
    const ok = validate(body);
    return { operationId: op.operationId, errors: ok ? [] : (validate.errors ?? []).map((e) => `${op.operationId}: ${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`) };
  }

  /** Every way `body` breaks the schema the description gives for this answer (empty when valid, or when the status has no JSON schema). */
  checkAnswer(method: string, urlPath: string, status: number, body: unknown): string[] {
    const found = this.answerSchema(method, urlPath, status);
    if ("error" in found) return [found.error];
    const key = `answer ${method} ${found.template} ${status}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(found.schema);
      this.validators.set(key, validate);
    }
    if (!validate || validate(body)) return [];
    return (validate.errors ?? []).map((e) => `answer to ${method} ${found.template}: ${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
  }

  /** The answer's schema with local $refs inlined, e.g. to build a complete answer from it. */
  answerSchema(method: string, urlPath: string, status: number): { schema: Json; template: string; operationId: string } | { error: string } {
    const route = this.route(method, urlPath);
    if (typeof route === "string") return { error: route };
    const item = (this.doc.paths as Record<string, Record<string, Json>>)[route.template]?.[method.toLowerCase()] ?? {};
    const responses = (item.responses ?? {}) as Record<string, unknown>;
    const response = this.inline(responses[String(status)], new Set()) as Json | undefined;
    const schema = this.kind === "openapi" ? (response?.content as Record<string, { schema?: Json }> | undefined)?.["application/json"]?.schema : (response?.schema as Json | undefined);
    const operationId = typeof item.operationId === "string" ? item.operationId : `${method} ${route.template}`;
    if (!schema) return { error: `${operationId} describes no JSON answer with status ${status}` };
    return { schema, template: route.template, operationId };
  }

  /** The description's example answer (OpenAPI `examples.default`) for a 200, if it has one. */
  example(method: string, template: string): unknown {
    const item = (this.doc.paths as Record<string, Record<string, Json>>)[template]?.[method.toLowerCase()];
    const content = (item?.responses as Record<string, Json> | undefined)?.["200"]?.content as Record<string, Json> | undefined;
    const ex = (content?.["application/json"]?.examples as Record<string, Json> | undefined)?.default;
    return ex ? (this.inline(ex, new Set()) as { value?: unknown }).value : undefined;
  }

  private route(method: string, urlPath: string): { method: string; template: string } | string {
    if (!urlPath.startsWith(this.basePath)) return `${urlPath} is outside ${this.basePath}`;
    const rel = urlPath.slice(this.basePath.length) || "/";
    // Prefer literal paths over templated ones (e.g. /check-runs/{id} vs /check-runs).
    const route = this.routes.filter((r) => r.method === method && r.pattern.test(rel)).sort((a, b) => b.template.split("{").length - a.template.split("{").length).at(-1);
    return route ?? `${method} ${rel} is not in the API description`;
  }

  /** Query parameters the operation does not describe, or whose value its schema refuses. */
  private checkQuery(template: string, method: string, operationId: string, query: URLSearchParams): string[] {
    const item = (this.doc.paths as Record<string, Record<string, Json>>)[template]?.[method.toLowerCase()] ?? {};
    const params = ((item.parameters ?? []) as Json[]).map((p) => this.inline(p, new Set()) as { name?: string; in?: string; schema?: Json; type?: string; enum?: unknown[] });
    const errors: string[] = [];
    for (const [name, raw] of query) {
      const param = params.find((p) => p.in === "query" && p.name === name);
      if (!param) {
        errors.push(`${operationId}: query parameter ${name} is not described`);
        continue;
      }
      const schema = (this.kind === "openapi" ? param.schema : { type: param.type, ...(param.enum ? { enum: param.enum } : {}) }) ?? {};
      const type = (schema as { type?: string }).type;
      const value = type === "integer" || type === "number" ? Number(raw) : type === "boolean" ? raw === "true" ? true : raw === "false" ? false : raw : raw;
      const validate = this.ajv.compile(schema);
      if (!validate(value)) errors.push(`${operationId}: query parameter ${name}=${raw}: ${(validate.errors ?? []).map((e) => e.message ?? "").join(", ")}`);
    }
    return errors;
  }

  private operation(template: string, method: string): Operation {
    const item = (this.doc.paths as Record<string, Record<string, Json>>)[template]?.[method.toLowerCase()] ?? {};
    const operationId = typeof item.operationId === "string" ? item.operationId : `${method} ${template}`;
    if (this.kind === "openapi") {
      const requestBody = item.requestBody as { required?: boolean; content?: Record<string, { schema?: Json }> } | undefined;
      return { operationId, bodySchema: requestBody?.content?.["application/json"]?.schema ?? null, bodyRequired: requestBody?.required === true };
    }
    const body = ((item.parameters ?? []) as { in?: string; required?: boolean; schema?: Json }[]).find((p) => p.in === "body");
    return { operationId, bodySchema: body?.schema ?? null, bodyRequired: body?.required === true };
  }

  /** The schema with every local $ref replaced by its target (recursion cut off with `{}`). */
  private inline(node: unknown, seen: Set<string>): Json {
    if (Array.isArray(node)) return node.map((n) => this.inline(n, seen)) as unknown as Json;
    if (typeof node !== "object" || node === null) return node as Json;
    const obj = node as Json;
    if (typeof obj.$ref === "string") {
      const ref = obj.$ref;
      if (seen.has(ref)) return {};
      const target = ref
        .replace(/^#\//, "")
        .split("/")
        .reduce<unknown>((v, k) => (v as Json | undefined)?.[k.replace(/~1/g, "/").replace(/~0/g, "~")], this.doc);
      return this.inline(target, new Set([...seen, ref]));
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(obj)) {
      if (k === "example" || k === "examples") continue;
      out[k] = this.inline(v, seen);
    }
    return out;
  }
}
