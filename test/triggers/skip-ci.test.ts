import { describe, expect, it } from "vitest";
import { skipCiMarker } from "../../src/triggers/skip-ci.js";

describe("[skip ci] in a commit message", () => {
  it("finds [skip ci], [ci skip] and [no ci] anywhere in the message, in any case", () => {
    expect(skipCiMarker("Fix typo [skip ci]")).toBe("[skip ci]");
    expect(skipCiMarker("[ci skip] docs")).toBe("[ci skip]");
    expect(skipCiMarker("Subject\n\nBody line\n[NO CI]\n")).toBe("[NO CI]");
    expect(skipCiMarker("Spaced [ Skip  CI ]")).toBe("[ Skip  CI ]");
  });

  it("ignores messages that only mention skipping", () => {
    for (const message of ["skip ci", "Teach the runner to honour skip-ci", "[skipci]", "(skip ci)", "[skip cid]", ""]) {
      expect(skipCiMarker(message), message).toBeNull();
    }
  });
});
