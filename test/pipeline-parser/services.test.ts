import { describe, expect, it } from "vitest";
import { commandWords, splitWords } from "../../src/pipeline-parser/services.js";

describe("a service's command written as a string", () => {
  it("is split into words as a shell would, without expansion", () => {
    expect(splitWords("postgres -c fsync=off")).toEqual(["postgres", "-c", "fsync=off"]);
    expect(splitWords(`sh -c 'echo "$HOME" && exit 1'  x`)).toEqual(["sh", "-c", 'echo "$HOME" && exit 1', "x"]);
    expect(splitWords(`a "b \\"c\\" \\n" d\\ e ''`)).toEqual(["a", 'b "c" \\n', "d e", ""]);
    expect(splitWords("  ")).toEqual([]);
  });

  it("is refused with an unterminated quote or a trailing backslash", () => {
    expect(splitWords("sh -c 'oops")).toBeNull();
    expect(splitWords('say "hi')).toBeNull();
    expect(splitWords("end\\")).toBeNull();
  });

  it("keeps a matrix expression within its word", () => {
    expect(commandWords("redis-server --port ${{ matrix.port }} x")).toEqual(["redis-server", "--port", "${{ matrix.port }}", "x"]);
    expect(commandWords("a 'b ${{ matrix.k }}'")).toEqual(["a", "b ${{ matrix.k }}"]);
  });
});
