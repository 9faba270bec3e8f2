/** The operator's registration tokens in the store: listed without secrets, last use recorded, revoked once. */
import { expect, it } from "vitest";
import { AgentTokens, hashToken } from "../../src/grpc/agent-tokens.js";
import { describeEachStore } from "../helpers/databases.js";

describeEachStore("registration tokens", (store) => {
  it("lists registration tokens only, newest first, without the token; records the last registration; revokes once", async () => {
    const db = await store.openMigrated();
    const tokens = new AgentTokens(db);
    const t0 = new Date("2030-01-01T00:00:00.000Z");
    await tokens.issue("bootstrap", { ttlMs: 60_000, at: t0, description: "local agent" });
    const a = await tokens.issue("registration", { description: "build-box", at: t0 });
    const b = await tokens.issue("registration", { description: "gpu-box", ttlMs: 3_600_000, at: new Date(t0.getTime() + 1000) });

    const listed = await tokens.listRegistration();
    expect(listed.map((t) => [t.id, t.description])).toEqual([
      [b.id, "gpu-box"],
      [a.id, "build-box"],
    ]);
    expect(listed[0]).toEqual({ id: b.id, description: "gpu-box", createdAt: "2030-01-01T00:00:01.000Z", expiresAt: "2030-01-01T01:00:01.000Z", lastUsedAt: null, revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(a.token);
    const { rows } = await db.query<{ token_hash: Uint8Array }>(`select token_hash from agent_tokens where id = $1`, [a.id]);
    expect(Buffer.from(rows[0]!.token_hash).equals(hashToken(a.token))).toBe(true);

    // A registration token is reusable; its last use moves forward.
    expect(await tokens.redeem(a.token, new Date(t0.getTime() + 5000))).toMatchObject({ ok: true, kind: "registration" });
    expect(await tokens.redeem(a.token, new Date(t0.getTime() + 9000))).toMatchObject({ ok: true });
    expect((await tokens.listRegistration()).find((t) => t.id === a.id)?.lastUsedAt).toBe("2030-01-01T00:00:09.000Z");

    expect(await tokens.revokeRegistration(a.id, new Date(t0.getTime() + 10_000))).toBe("revoked");
    expect(await tokens.revokeRegistration(a.id, new Date(t0.getTime() + 11_000))).toBe("already");
    expect((await tokens.listRegistration()).find((t) => t.id === a.id)?.revokedAt).toBe("2030-01-01T00:00:10.000Z");
    expect(await tokens.redeem(a.token, new Date(t0.getTime() + 12_000))).toEqual({ ok: false, why: "revoked" });
    expect(await tokens.redeem(b.token, new Date(t0.getTime() + 2 * 3_600_000))).toEqual({ ok: false, why: "expired" });
    expect(await tokens.revokeRegistration("no-such-id")).toBe("unknown");
    // Bootstrap tokens are not the operator's to revoke through this path.
    const boot = (await db.query<{ id: string }>(`select id from agent_tokens where kind = 'bootstrap'`)).rows[0]!;
    expect(await tokens.revokeRegistration(boot.id)).toBe("unknown");
  });
});
