/**
 * The V8 flags every Hodei process runs with: the server (bin/hodei.js's
 * `#!` line, which must list the same flags; test/server/node-flags.test.ts
 * holds them together) and every agent a provider starts.
 *
 * `--max-semi-space-size=4` caps V8's young generation at 4 MB per semi-space
 * instead of letting it grow to 16. Both processes pass a stream of
 * short-lived buffers and strings (log batches, gRPC frames), and a young
 * generation grown for that stream stays committed: on the 1M-line log
 * benchmark the server peaked at 141–155 MB RSS without the cap and 118 MB
 * with it, at the same lines per second, and 500 trivial stages ran as fast
 * (bench/ figures in BENCHMARKS.md). The command line wins over NODE_OPTIONS:
 * `node --max-semi-space-size=N bin/hodei.js server` runs a server with another.
 */
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];
