import {
  DefaultIntrinsics,
  newQuickJSWASMModuleFromVariant,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSWASMModule } from "quickjs-emscripten";

export interface SandboxLimits {
  cpuMilliseconds: number;
  memoryBytes: number;
  stackBytes: number;
  resultBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  cpuMilliseconds: 1000,
  memoryBytes: 64 * 1024 * 1024,
  // QuickJS checks its own stack; V8 runs out of native stack for the WASM frames
  // first above ~256 KiB, so stay well below that.
  stackBytes: 128 * 1024,
  resultBytes: 1024 * 1024,
};

export type SandboxFailureKind = "thrown" | "cpu-limit" | "memory-limit" | "stack-limit" | "never-settled" | "result-too-large" | "bad-result";

export interface SandboxFailure {
  kind: SandboxFailureKind;
  message: string;
  /** The QuickJS stack of a thrown error, with frames like `at f (pipeline.bundle.js:12:30)`. */
  stack?: string;
}

export type SandboxResult = { ok: true; value: unknown } | { ok: false; failure: SandboxFailure };

// lib "ES2023" without DOM types has no WebAssembly.Memory; quickjs-emscripten's
// option is typed with it, hence the `never` cast where it is passed.
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => object } }).WebAssembly
  .Memory;

export const BUNDLE_FILENAME = "pipeline.bundle.js";

// Runs after the bundle; `ctx` is spliced in as a JSON literal.
const RUNNER = (ctxJson: string): string => `(async () => {
  const mod = globalThis.__hodei;
  const exported = mod ? mod.default : undefined;
  if (exported === undefined) throw new TypeError("the pipeline file has no default export: export default definePipeline(...)");
  const value = typeof exported === "function" ? await exported(${ctxJson}) : await exported;
  const json = JSON.stringify(value);
  if (typeof json !== "string") throw new TypeError("the default export must be (or return) a pipeline object, not " + typeof value);
  globalThis.__hodeiResult = json;
  return json.length;
})()`;

// No clock and no randomness: a pipeline is a function of ctx alone.
const PRELUDE = `Object.defineProperty(Math, "random", { value: function random() {
  throw new Error("Math.random is not available in a pipeline file: the pipeline must depend on ctx only");
} });`;

/**
 * A fresh QuickJS WASM module (its own instance and memory) for one
 * evaluation. Separate from `runInSandbox` so a caller can start it while it
 * does other work (the TS path bundles with esbuild meanwhile); it must be
 * passed to exactly one `runInSandbox`.
 */
export function newSandboxModule(limits: SandboxLimits = DEFAULT_LIMITS): Promise<QuickJSWASMModule> {
  // QuickJS's own allocator limit misses some allocations (large arrays), so
  // the WASM memory itself is capped too: limit plus room for the engine.
  const pages = Math.ceil((limits.memoryBytes + 16 * 1024 * 1024) / 65536);
  const wasmMemory = new WasmMemory({ initial: 256, maximum: Math.max(256, pages) });
  return newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory: wasmMemory as never }));
}

/**
 * Evaluates a bundled pipeline in a fresh QuickJS (WASM) instance: no file
 * system, network, process, timers or clock; CPU, memory, stack and result
 * size are capped. Each call gets its own WASM module (from
 * `newSandboxModule`, made with the same limits), so nothing a pipeline does
 * can outlive the call.
 */
export async function runInSandbox(
  code: string,
  ctx: unknown,
  limits: SandboxLimits = DEFAULT_LIMITS,
  module: Promise<QuickJSWASMModule> = newSandboxModule(limits),
): Promise<SandboxResult> {
  const quickjs = await module;
  const runtime = quickjs.newRuntime();
  const deadline = Date.now() + limits.cpuMilliseconds;
  runtime.setMemoryLimit(limits.memoryBytes);
  runtime.setMaxStackSize(limits.stackBytes);
  runtime.setInterruptHandler(() => Date.now() > deadline);
  const vm = runtime.newContext({ intrinsics: { ...DefaultIntrinsics, Date: false } });
  let result: SandboxResult;
  try {
    result = evaluate(vm, runtime, code, JSON.stringify(ctx), deadline, limits);
  } catch (e) {
    // The host itself gave up (V8's stack under deep WASM recursion): the
    // module's state is unknown, so drop it whole instead of tearing it down.
    if (e instanceof RangeError) return { ok: false, failure: { kind: "stack-limit", message: "the pipeline file exceeded its stack limit" } };
    return { ok: false, failure: { kind: "memory-limit", message: `the pipeline file exhausted the sandbox (${String(e).slice(0, 200)})` } };
  }
  // After a failure the runtime may still hold objects (pending jobs, a
  // half-built value) and QuickJS asserts on freeing it; the module is
  // private to this call, so dropping it whole is enough.
  if (result.ok) {
    vm.dispose();
    runtime.dispose();
  }
  return result;
}

function evaluate(vm: QuickJSContext, runtime: QuickJSRuntime, code: string, ctxJson: string, deadline: number, limits: SandboxLimits): SandboxResult {
  const prelude = vm.evalCode(PRELUDE, "prelude.js");
  if (prelude.error) return fail(vm, prelude.error, deadline, limits);
  prelude.value.dispose();
  const loaded = vm.evalCode(code, BUNDLE_FILENAME);
  if (loaded.error) return fail(vm, loaded.error, deadline, limits);
  loaded.value.dispose();
  const started = vm.evalCode(RUNNER(ctxJson), "hodei-runner.js");
  if (started.error) return fail(vm, started.error, deadline, limits);
  const promise = started.value;
  try {
    for (;;) {
      const state = vm.getPromiseState(promise);
      if (state.type === "rejected") return fail(vm, state.error, deadline, limits);
      if (state.type === "fulfilled") {
        const length = vm.getNumber(state.value);
        state.value.dispose();
        return readResult(vm, length, limits);
      }
      if (Date.now() > deadline) return cpuLimit(limits);
      const jobs = runtime.executePendingJobs();
      if (jobs.error) return fail(vm, jobs.error, deadline, limits);
      // No timers or I/O exist in the sandbox: with no job left, nothing can ever settle the promise.
      if (jobs.value === 0 && vm.getPromiseState(promise).type === "pending") {
        return { ok: false, failure: { kind: "never-settled", message: "the pipeline's promise never settles" } };
      }
    }
  } finally {
    promise.dispose();
  }
}

function readResult(vm: QuickJSContext, length: number, limits: SandboxLimits): SandboxResult {
  // UTF-16 length bounds the UTF-8 size from below; check again after copying out.
  if (length > limits.resultBytes) return tooLarge(length, limits);
  const handle = vm.getProp(vm.global, "__hodeiResult");
  const json = vm.getString(handle);
  handle.dispose();
  if (Buffer.byteLength(json) > limits.resultBytes) return tooLarge(Buffer.byteLength(json), limits);
  return { ok: true, value: JSON.parse(json) as unknown };
}

function tooLarge(size: number, limits: SandboxLimits): SandboxResult {
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return { ok: false, failure: { kind: "result-too-large", message: `the pipeline object is too large as JSON (${mib(size)}; the limit is ${mib(limits.resultBytes)})` } };
}

function cpuLimit(limits: SandboxLimits): SandboxResult {
  return { ok: false, failure: { kind: "cpu-limit", message: `the pipeline file exceeded its ${limits.cpuMilliseconds} ms CPU limit` } };
}

function fail(vm: QuickJSContext, error: QuickJSHandle, deadline: number, limits: SandboxLimits): SandboxResult {
  let dumped: unknown;
  try {
    dumped = vm.dump(error);
  } catch {
    dumped = undefined;
  } finally {
    error.dispose();
  }
  if (Date.now() > deadline) return cpuLimit(limits);
  const err = typeof dumped === "object" && dumped !== null ? (dumped as { name?: unknown; message?: unknown; stack?: unknown }) : {};
  // QuickJS reports exhausting its allocator as this exact InternalError; it is
  // the engine's fixed wording, not text from the pipeline.
  if ((err.name === "InternalError" && err.message === "out of memory") || dumped === null) {
    return { ok: false, failure: { kind: "memory-limit", message: `the pipeline file exceeded its ${limits.memoryBytes / 1024 / 1024} MiB memory limit` } };
  }
  const message = typeof err.message === "string" ? `${typeof err.name === "string" ? err.name : "Error"}: ${err.message}` : `uncaught ${safeString(dumped)}`;
  return { ok: false, failure: { kind: "thrown", message, stack: typeof err.stack === "string" ? err.stack : undefined } };
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v);
  } catch {
    return "value";
  }
}
