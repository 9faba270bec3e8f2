// Lint rules: typescript-eslint's type-aware set, so floating promises and
// unsafe `any` crossing module boundaries are errors rather than review comments.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Fixtures are data: pipeline files, some broken on purpose, evaluated in the sandbox rather than compiled.
  { ignores: ["dist/", "node_modules/", ".hodei-data/", "coverage/", "test-artifacts/", "bin/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "*.ts"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/only-throw-error": "error",
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  // Build scripts (and the benchmarks' child processes) are plain Node ESM, run as they are; they are outside the TypeScript project.
  { files: ["eslint.config.js", "vitest.config.ts", "scripts/**/*.mjs", "bench/**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  // The dashboard: plain browser ES modules served as they are (no build step), outside the TS project.
  {
    files: ["dashboard/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: "module",
      globals: Object.fromEntries(
        ["window", "document", "history", "location", "fetch", "sessionStorage", "navigator", "EventSource", "URLSearchParams", "PopStateEvent",
          "Node", "Element", "setTimeout", "setInterval", "clearInterval", "dispatchEvent", "addEventListener"].map((g) => [g, "readonly"]),
      ),
    },
  },
);
