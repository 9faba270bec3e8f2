/**
 * PGlite's file system layer (Emscripten) throws `ErrnoError` objects: not
 * Error instances, no message, only a WASI errno number. Printed or sent to
 * another process they read `[object Object]`. This turns one into an
 * Error with the POSIX code Node uses (`ENOSPC`, ...), words for it, and the
 * directory it happened in, so an operator can act on it and
 * store-unavailable.ts can classify it.
 */

/** WASI errno numbers (the numbering Emscripten's file system uses) of the errors a data directory meets. */
const WASI_ERRNO: Record<number, { code: string; text: string }> = {
  2: { code: "EACCES", text: "permission denied" },
  19: { code: "EDQUOT", text: "disk quota exceeded" },
  20: { code: "EEXIST", text: "file exists" },
  22: { code: "EFBIG", text: "file too large" },
  29: { code: "EIO", text: "input/output error" },
  31: { code: "EISDIR", text: "is a directory" },
  44: { code: "ENOENT", text: "no such file or directory" },
  48: { code: "ENOMEM", text: "out of memory" },
  51: { code: "ENOSPC", text: "no space left on device" },
  54: { code: "ENOTDIR", text: "not a directory" },
  63: { code: "EPERM", text: "operation not permitted" },
  69: { code: "EROFS", text: "read-only file system" },
};

/** An error of the embedded store's file system, with its POSIX code and where it happened. */
export class StoreFileSystemError extends Error {
  override readonly name = "StoreFileSystemError";
  constructor(
    readonly code: string,
    readonly errno: number,
    readonly dataDir: string,
  ) {
    const text = Object.values(WASI_ERRNO).find((e) => e.code === code)?.text ?? `file system error ${errno}`;
    super(`${text} in ${dataDir} (${code})`);
  }
}

/** `error` as a StoreFileSystemError if it is an Emscripten ErrnoError, else as it is. */
export function fromWasmErrno(error: unknown, dataDir: string): unknown {
  if (typeof error !== "object" || error === null || error instanceof Error) return error;
  const e = error as { name?: unknown; errno?: unknown };
  if (e.name !== "ErrnoError" || typeof e.errno !== "number") return error;
  return new StoreFileSystemError(WASI_ERRNO[e.errno]?.code ?? `WASI_ERRNO_${e.errno}`, e.errno, dataDir);
}
