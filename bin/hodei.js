#!/usr/bin/env -S node --max-semi-space-size=4
// The flags on the line above are src/server/node-flags.ts's (a bounded young generation: less RSS under load).
// The published entry point: the CLI bundle in dist/cli-bundle/ (built by `npm install`'s prepare step,
// scripts/build-cli.mjs), which imports the commands it does not bundle from dist/.
import { main } from "../dist/cli-bundle/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 70;
  },
);
