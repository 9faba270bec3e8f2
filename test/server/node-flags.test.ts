/**
 * The V8 flags of src/server/node-flags.ts reach every Hodei process: the CLI
 * and server started through bin/hodei.js's `#!` line, and the local agents
 * the server starts.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/server/control-plane.js";
import { NODE_FLAGS } from "../../src/server/node-flags.js";
import { tempDir, testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startRun, stageLog } from "../agent/helpers.js";

const hodeiBin = fileURLToPath(new URL("../../bin/hodei.js", import.meta.url));

let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

describe("the Node flags of Hodei's processes", () => {
  it("are the flags on bin/hodei.js's #! line", async () => {
    const [shebang] = (await readFile(hodeiBin, "utf8")).split("\n");
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(" ")}`);
  });

  it("reach a process started through the #! line, as npx starts it", async () => {
    const dir = await tempDir();
    const seen = path.join(dir, "exec-argv.json");
    // Preloaded into the process the #! line starts: records the flags it runs with.
    const preload = path.join(dir, "record.cjs");
    await writeFile(preload, `require("fs").writeFileSync(${JSON.stringify(seen)}, JSON.stringify(process.execArgv));\n`);
    await promisify(execFile)(hodeiBin, ["--help"], { env: { ...process.env, NODE_OPTIONS: `--require ${preload}` } });
    expect(JSON.parse(await readFile(seen, "utf8"))).toEqual(expect.arrayContaining([...NODE_FLAGS]));
  });

  it("reach the local agents the server starts", async () => {
    control = await ControlPlane.start({ ...(await testStore("pglite").create()), localAgents: 1 });
    // A stage's parent process is its agent.
    const id = await startRun(control, [stage("argv", { commands: [`tr '\\0' ' ' < /proc/$PPID/cmdline; echo`] })]);
    expect((await control.engine.waitForRun(id)).conclusion).toBe("success");
    const log = await stageLog(control, id, "argv");
    expect(log).toMatch(/ agent /);
    for (const flag of NODE_FLAGS) expect(log).toContain(` ${flag} `);
  });
});
