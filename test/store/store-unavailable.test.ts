import pg from "pg";
import { describe, expect, it } from "vitest";
import { isStoreUnavailable, storeUnavailableReason } from "../../src/store/store-unavailable.js";
import { freePort } from "../durability/crash-harness.js";
import { openTestDatabase, storeKinds } from "../helpers/databases.js";

const pgError = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("storeUnavailableReason", () => {
  it("calls connection, shutdown and disk-full errors transient", () => {
    expect(storeUnavailableReason(pgError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"))).toBe("connection refused");
    expect(storeUnavailableReason(new Error("Connection terminated unexpectedly"))).toBe("connection lost");
    expect(storeUnavailableReason(pgError("57P01", "terminating connection due to administrator command"))).toBe("store shutting down");
    expect(storeUnavailableReason(pgError("57P03", "the database system is starting up"))).toBe("store starting up");
    expect(storeUnavailableReason(pgError("53100", "could not extend file"))).toBe("disk full");
    expect(storeUnavailableReason(pgError("ENOSPC", "no space left on device"))).toBe("disk full");
    expect(storeUnavailableReason(new AggregateError([pgError("ECONNREFUSED"), pgError("ECONNREFUSED")]))).toBe("connection refused");
    expect(storeUnavailableReason(new Error("append failed", { cause: pgError("08006") }))).toBe("connection lost");
  });

  it("does not call a statement's own errors transient", () => {
    expect(storeUnavailableReason(pgError("23505", "duplicate key value violates unique constraint"))).toBeNull();
    expect(storeUnavailableReason(pgError("42601", "syntax error"))).toBeNull();
    expect(storeUnavailableReason(new Error("something else"))).toBeNull();
    expect(storeUnavailableReason("a string")).toBeNull();
    expect(isStoreUnavailable(null)).toBe(false);
  });

  it("classifies what pg really throws against a port nobody listens on", async () => {
    const client = new pg.Client({ host: "127.0.0.1", port: await freePort(), user: "postgres", database: "x" });
    const error = await client.connect().then(() => null, (e: unknown) => e);
    expect(error).not.toBeNull();
    expect(storeUnavailableReason(error)).toBe("connection refused");
  });

  it("classifies a real unique violation as not transient", async () => {
    for (const name of storeKinds()) {
      const db = await openTestDatabase(name);
      try {
        await db.query("create table t (id integer primary key)");
        await db.query("insert into t values (1)");
        const error = await db.query("insert into t values (1)").then(() => null, (e: unknown) => e);
        expect(error, name).not.toBeNull();
        expect(storeUnavailableReason(error), name).toBeNull();
      } finally {
        await db.close();
      }
    }
  });
});
