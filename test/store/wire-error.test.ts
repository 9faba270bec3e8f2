/** What crosses from the store process for an error (src/store/sidecar/protocol.ts). */
import { describe, expect, it } from "vitest";
import { fromWasmErrno, StoreFileSystemError } from "../../src/store/adapters/wasm-errno.js";
import { toWireError } from "../../src/store/sidecar/protocol.js";

/** What PGlite's file system (Emscripten) throws: no Error, no message, a WASI errno. */
class ErrnoError {
  name = "ErrnoError";
  constructor(readonly errno: number) {}
}

describe("errors crossing from the store process", () => {
  it("keeps an Error's message, fields, stack and cause", () => {
    const cause = Object.assign(new Error("could not extend file"), { code: "53100" });
    const error = Object.assign(new Error("append failed", { cause }), { code: "XX000" });
    const wire = toWireError(error);
    expect(wire).toMatchObject({ name: "Error", message: "append failed", fields: { code: "XX000" }, cause: { message: "could not extend file", fields: { code: "53100" } } });
    expect(wire.stack).toContain("wire-error.test.ts");
  });

  it("keeps a thrown object that is no Error readable instead of [object Object]", () => {
    const wire = toWireError(new ErrnoError(51));
    expect(wire).toEqual({ name: "ErrnoError", message: expect.stringMatching(/^ErrnoError \{.*"errno":51/), fields: { name: "ErrnoError", errno: 51 } });
  });

  it("turns PGlite's file system errors into errors with a code and the directory", () => {
    const error = fromWasmErrno(new ErrnoError(51), "/var/lib/hodei/pg");
    expect(error).toBeInstanceOf(StoreFileSystemError);
    expect(error).toMatchObject({ code: "ENOSPC", errno: 51, message: "no space left on device in /var/lib/hodei/pg (ENOSPC)" });
    expect(fromWasmErrno(new ErrnoError(69), "/d")).toMatchObject({ code: "EROFS", message: "read-only file system in /d (EROFS)" });
    const other = new Error("not a file system error");
    expect(fromWasmErrno(other, "/d")).toBe(other);
  });
});
