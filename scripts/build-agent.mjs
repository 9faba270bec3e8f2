#!/usr/bin/env node
// Bundles the standalone agent into one self-contained file, dist/agent-bundle.mjs,
// which the docker and kubernetes providers mount into containers and pods.
// @grpc/grpc-js and @grpc/proto-loader are bundled; the .proto files are
// embedded (parsed to JSON at build time) because the bundle runs where the
// repository's proto/ directory is not.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// protobufjs as @grpc/proto-loader itself resolves it (not a direct dependency of ours).
const require = createRequire(import.meta.url);
const protobuf = createRequire(require.resolve("@grpc/proto-loader"))("protobufjs");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = path.join(root, "proto");

/** Every .proto under proto/, by its path relative to proto/. */
function embeddedProtos() {
  const out = {};
  for (const entry of readdirSync(protoRoot, { recursive: true })) {
    const rel = String(entry);
    if (!rel.endsWith(".proto")) continue;
    const parsed = new protobuf.Root();
    parsed.resolvePath = (origin, target) => (path.isAbsolute(target) ? target : path.join(origin ? path.dirname(origin) : protoRoot, target));
    parsed.loadSync(path.join(protoRoot, rel), { keepCase: false });
    out[rel.split(path.sep).join("/")] = parsed.toJSON();
  }
  return out;
}

// `loadSync(file)` of a proto we embedded returns the embedded definition; anything else goes to the real loader.
const protoShim = {
  name: "embedded-protos",
  setup(b) {
    b.onResolve({ filter: /^@grpc\/proto-loader$/ }, (args) =>
      args.pluginData === "real" ? undefined : { path: "proto-loader-shim", namespace: "hodei" },
    );
    b.onLoad({ filter: /.*/, namespace: "hodei" }, () => ({
      resolveDir: root,
      pluginData: "real",
      contents: `
        import * as real from "@grpc/proto-loader";
        const EMBEDDED = ${JSON.stringify(embeddedProtos())};
        export * from "@grpc/proto-loader";
        export function loadSync(file, options) {
          const name = String(file).split("\\\\").join("/");
          const key = Object.keys(EMBEDDED).find((k) => name === k || name.endsWith("/" + k));
          return key ? real.fromJSON(EMBEDDED[key], options) : real.loadSync(file, options);
        }`,
    }));
  },
};

await build({
  entryPoints: [path.join(root, "src/providers/agent-bundle-entry.ts")],
  outfile: path.join(root, "dist/agent-bundle.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // grpc-js is CommonJS and calls require() for Node built-ins.
  banner: { js: 'import { createRequire as __hodeiRequire } from "node:module"; const require = __hodeiRequire(import.meta.url);' },
  plugins: [protoShim],
  logLevel: "warning",
  legalComments: "none",
});
