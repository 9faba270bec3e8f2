import v8 from "node:v8";

/**
 * For commands that evaluate at most one `.hodei/pipeline.ts` and then exit
 * (`validate`, `plan`). V8 otherwise recompiles the hot functions of the
 * QuickJS WASM module with its optimising compiler on background threads:
 * work one short evaluation never pays back, which on a 2-core machine
 * competed with the command itself (about half of `hodei validate`'s CPU time
 * on a 200-stage pipeline.ts, see bench/validate.bench.ts). The sandbox then
 * runs V8's baseline WASM code; its isolation and limits are unchanged. The
 * server, which evaluates pipelines again and again, keeps tiering up.
 *
 * Node keeps V8's flags writable after start for `v8.setFlagsFromString`;
 * these two are read when a WASM module is compiled.
 */
export function skipWasmTierUp(): void {
  v8.setFlagsFromString("--no-wasm-tier-up");
  v8.setFlagsFromString("--no-wasm-dynamic-tiering");
}
