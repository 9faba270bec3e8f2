import { createRequire } from "node:module";
import posixPath from "node:path/posix";
import type { Message, Plugin } from "esbuild";
import { PipelineError } from "./errors.js";

// esbuild is CommonJS: require() it, so importing it from ESM does not first
// scan its whole source for named exports (cjs-module-lexer), a cost every
// `hodei validate` of a .ts pipeline paid.
const { build } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");

/** The `hodei` module as seen from inside the sandbox. */
const HODEI_MODULE = "export function definePipeline(pipeline) { return pipeline; }\n";
const EXTENSIONS = ["", ".ts", ".mts", ".js", ".mjs", "/index.ts", "/index.js"];
const LOADERS = { ".ts": "ts", ".mts": "ts", ".js": "js", ".mjs": "js", ".json": "json" } as const;

export interface Bundle {
  code: string;
  /** Source map (v3) of `code`; sources are display paths such as `.hodei/pipeline.ts`. */
  map: string;
}

export type BundleResult = { ok: true; bundle: Bundle } | { ok: false; errors: PipelineError[] };

/**
 * Bundles a `.hodei/pipeline.ts` into one script that leaves its module
 * namespace in the global `__hodei`. Imports may name `hodei` or relative
 * modules inside the pipeline's directory; anything else is a positioned error.
 */
export async function bundlePipeline(
  file: string,
  entryText: string,
  readModule: (relPath: string) => Promise<string | null>,
): Promise<BundleResult> {
  const root = posixPath.dirname(toPosix(file));
  const entry = toPosix(file);
  const read = async (p: string): Promise<string | null> => (p === entry ? entryText : readModule(p));
  const plugin: Plugin = {
    name: "hodei-sandbox-modules",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point") return { path: entry, namespace: "pipeline" };
        if (args.path === "hodei") return { path: "hodei", namespace: "hodei" };
        if (!args.path.startsWith("./") && !args.path.startsWith("../")) {
          return { errors: [{ text: `cannot import ${JSON.stringify(args.path)}: a pipeline may import only "hodei" and relative modules under ${root}/` }] };
        }
        const base = posixPath.normalize(posixPath.join(posixPath.dirname(args.importer), args.path));
        if (!inside(base, root)) {
          return { errors: [{ text: `cannot import ${JSON.stringify(args.path)}: it is outside ${root}/` }] };
        }
        for (const ext of EXTENSIONS) {
          const candidate = base + ext;
          if (loaderFor(candidate) && (await read(candidate)) !== null) return { path: candidate, namespace: "pipeline" };
        }
        return { errors: [{ text: `cannot import ${JSON.stringify(args.path)}: no such module under ${root}/` }] };
      });
      b.onLoad({ filter: /.*/, namespace: "hodei" }, () => ({ contents: HODEI_MODULE, loader: "js" }));
      b.onLoad({ filter: /.*/, namespace: "pipeline" }, async (args) => {
        const contents = await read(args.path);
        const loader = loaderFor(args.path);
        if (contents === null || !loader) return { errors: [{ text: `cannot read ${args.path}` }] };
        return { contents, loader };
      });
    },
  };
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "iife",
      globalName: "__hodei",
      platform: "neutral",
      target: "es2022",
      outfile: "pipeline.bundle.js",
      sourcemap: "external",
      sourcesContent: false,
      logLevel: "silent",
      plugins: [plugin],
    });
    const code = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text ?? "";
    const rawMap = result.outputFiles.find((f) => f.path.endsWith(".map"))?.text ?? "{}";
    const map = JSON.parse(rawMap) as { sources?: string[] };
    map.sources = (map.sources ?? []).map((s) => s.replace(/^(pipeline|hodei):/, ""));
    return { ok: true, bundle: { code, map: JSON.stringify(map) } };
  } catch (e) {
    const messages = (e as { errors?: Message[] }).errors;
    if (!Array.isArray(messages)) throw e;
    return { ok: false, errors: messages.map((m) => toPipelineError(file, m)) };
  }
}

function toPipelineError(file: string, m: Message): PipelineError {
  const loc = m.location;
  if (!loc) return new PipelineError(file, { line: 1, column: 1 }, m.text);
  const where = loc.file.replace(/^(pipeline|hodei):/, "");
  return new PipelineError(where === "" ? file : where, { line: loc.line, column: loc.column + 1 }, m.text);
}

function inside(p: string, root: string): boolean {
  const rel = posixPath.relative(root, p);
  return rel !== "" && !rel.startsWith("..") && !posixPath.isAbsolute(rel);
}

function loaderFor(p: string): (typeof LOADERS)[keyof typeof LOADERS] | undefined {
  const ext = posixPath.extname(p) as keyof typeof LOADERS;
  return LOADERS[ext];
}

function toPosix(p: string): string {
  return p.replace(/\\/g, "/");
}
