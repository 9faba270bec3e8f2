/**
 * SPEC 6 with real agent processes: a stage gets the secrets it lists in its
 * environment only, and no form of them reaches the stored log, the agent's
 * or the stage shell's argv or environment, or the disk.
 */
import { randomBytes } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { LOG_BATCH_BYTES } from "../../src/agent/log-batcher.js";
import { loadSecretsKey } from "../../src/secrets/key.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startRun, stageLog } from "./helpers.js";

let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

const firstHalf = 'printf %s "$TOKEN" | cut -c1-9';
const secondHalf = 'printf %s "$TOKEN" | cut -c10-';

describeEachStore("secrets in stages", (store) => {
  it("reach the command's environment only, and every printed form of them is masked", async () => {
    const where = await store.create();
    const serverLog: string[] = [];
    control = await ControlPlane.start({ ...where, localAgents: 1, leaseMs: 5000, log: (m) => serverLog.push(m) });
    const token = `tok-${randomBytes(12).toString("hex")}`;
    const multi = `first-line-${randomBytes(4).toString("hex")}\nsecond-line-${randomBytes(4).toString("hex")}`;
    const secrets = new SecretStore(control.db, await loadSecretsKey({ dataDir: where.dataDir }));
    await secrets.set("acme/widgets", "TOKEN", token);
    await secrets.set("acme/widgets", "MULTI", multi);

    const leakChecks = [
      // The stage's parent is the agent: the stage runs in the shell the agent started.
      'grep -q "hodei" /proc/$PPID/cmdline && echo "parent is the agent"',
      'if grep -q -- "$TOKEN" /proc/$PPID/environ; then echo LEAK-agent-environ; fi',
      'if grep -q -- "$TOKEN" /proc/$PPID/cmdline; then echo LEAK-agent-cmdline; fi',
      'if grep -q -- "$TOKEN" /proc/$$/cmdline; then echo LEAK-shell-cmdline; fi',
      // What the stage's shell was started with: the secrets came later, over its stdin.
      'if grep -q -- "$TOKEN" /proc/$$/environ; then echo LEAK-shell-environ; fi',
      'if grep -rq -- "$TOKEN" . /tmp/hodei-ws-* 2>/dev/null; then echo LEAK-disk; fi',
      'echo "token length ${#TOKEN}"',
    ].join("\n");
    const id = await startRun(control, [
      stage("use", {
        secrets: ["TOKEN", "MULTI"],
        commands: [
          leakChecks,
          'echo "whole: $TOKEN"',
          `${firstHalf}; sleep 0.001; ${secondHalf}; echo`,
          // Filler up to just short of a batch: the secret straddles the batch boundary.
          `head -c ${LOG_BATCH_BYTES - 6} /dev/zero | tr '\\0' x; echo "$TOKEN"`,
          'printf %s "$TOKEN" | base64; printf "a%s" "$TOKEN" | base64; printf "ab%s" "$TOKEN" | base64',
          'echo "$MULTI"; echo "$MULTI" | tail -n 1',
        ],
      }),
      stage("plain", { commands: ['echo "token here: [${TOKEN:-}]"'] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");

    const log = await stageLog(control, id, "use");
    expect(log).toContain("parent is the agent");
    expect(log).toContain(`token length ${token.length}`);
    expect(log).not.toContain("LEAK");
    expect(log).toContain("whole: ***");
    for (const form of [
      token,
      token.slice(4),
      Buffer.from(token).toString("base64").slice(0, 12),
      Buffer.from(`a${token}`).toString("base64").slice(4, 16),
      Buffer.from(`ab${token}`).toString("base64").slice(4, 16),
      ...multi.split("\n"),
    ]) {
      expect(log, form).not.toContain(form);
    }
    const { rows } = await control.db.query<{ n: number }>(`select count(*)::int as n from log_chunks where run_id = $1 and stage_id = 'use'`, [id]);
    expect(rows[0]!.n).toBeGreaterThan(1);
    // A stage that lists no secret gets none.
    expect(await stageLog(control, id, "plain")).toContain("token here: []");
    expect(serverLog.join("\n")).not.toContain(token);
  });

  it("fails a stage whose secret is not set, naming it and not the values of the others", async () => {
    const where = await store.create();
    control = await ControlPlane.start({ ...where, localAgents: 1, leaseMs: 5000 });
    const id = await startRun(control, [stage("use", { secrets: ["MISSING_ONE"], commands: ["echo ran"] })]);
    const final = await control.engine.waitForRun(id);
    expect(final.stages.get("use")).toMatchObject({ conclusion: "failure" });
    expect(final.stages.get("use")!.reason).toContain("secret MISSING_ONE is not set for acme/widgets");
    expect(await stageLog(control, id, "use")).not.toContain("ran");
  });
});
