#!/usr/bin/env node
// The published entry point: the compiled CLI lives in dist/ (built by `npm install`'s prepare step).
import { main } from "../dist/cli/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 70;
  },
);
