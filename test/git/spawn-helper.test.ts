/** Git processes started from the helper process: outputs, exit codes, standard input and the environment arrive as from a direct spawn. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GitCommandError, runGit } from "../../src/git/git-process.js";
import { spawnViaHelper } from "../../src/git/spawn-helper.js";
import { tempDir } from "../helpers/databases.js";

const env = { PATH: process.env.PATH ?? "", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

describe("spawn helper", () => {
  it("returns a process's output and exit code, feeds its standard input, and reports one that cannot start", async () => {
    const hashed = await spawnViaHelper({ file: "git", args: ["hash-object", "--stdin"], env, input: "hello\n" });
    expect(hashed).toMatchObject({ code: 0 });
    expect(hashed.stdout.toString()).toBe("ce013625030ba8dba906f756967f9e9ca394464a\n");
    const failed = await spawnViaHelper({ file: "git", args: ["no-such-command"], env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("no-such-command");
    const missing = await spawnViaHelper({ file: "hodei-no-such-binary", args: [], env });
    expect(missing.code).toBeNull();
    expect(missing.stderr).toContain("ENOENT");
  });

  it("hands the given environment, and only it, to the process (a fetch's credential header travels this way)", async () => {
    const dir = await tempDir("hodei-spawn-");
    await runGit({ gitDir: dir, args: ["init", "--bare", "--quiet"], env });
    const header = "Authorization: Basic c2VjcmV0";
    const withAuth = { ...env, GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: header };
    expect(await runGit({ gitDir: dir, args: ["config", "--get", "http.extraHeader"], env: withAuth })).toBe(`${header}\n`);
    await expect(runGit({ gitDir: dir, args: ["config", "--get", "http.extraHeader"], env })).rejects.toBeInstanceOf(GitCommandError);
  });

  it("runs many processes at once and answers each its own", async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => `blob ${i}\n`);
    const outs = await Promise.all(inputs.map((input) => spawnViaHelper({ file: "git", args: ["hash-object", "--stdin"], env, input })));
    // git's blob id: sha1 of "blob <size>\0<content>".
    const expected = inputs.map((input) => `${createHash("sha1").update(`blob ${Buffer.byteLength(input)}\0${input}`).digest("hex")}\n`);
    expect(outs.map((o) => o.stdout.toString())).toEqual(expected);
  });
});
