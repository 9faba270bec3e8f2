/** The stand-in forges' answers are checked against the published descriptions: a wrong answer is caught. */
import { describe, expect, it } from "vitest";
import { ApiContract } from "../forge/api-contract.js";
import { sampleOf } from "../forge/schema-sample.js";

describe("answers checked against the forge's API description", () => {
  it("GitHub: a repository listing without push in permissions, or with private as text, breaks the OpenAPI schema", () => {
    const github = ApiContract.github();
    const found = github.answerSchema("GET", "/user/repos", 200);
    if ("error" in found) throw new Error(found.error);
    const good = sampleOf(found.schema, [{ full_name: "acme/widgets", private: true, permissions: { admin: false, push: true, pull: true }, license: null, mirror_url: null, homepage: null, language: null, description: null }]);
    expect(github.checkAnswer("GET", "/user/repos", 200, good)).toEqual([]);
    const noPush = structuredClone(good) as { permissions: Record<string, boolean> }[];
    delete noPush[0]!.permissions.push;
    expect(github.checkAnswer("GET", "/user/repos", 200, noPush).join("\n")).toMatch(/push/);
    const textPrivate = sampleOf(found.schema, [{ full_name: "acme/widgets", private: "yes", permissions: { admin: false, push: true, pull: true }, license: null, mirror_url: null, homepage: null, language: null, description: null }]);
    expect(github.checkAnswer("GET", "/user/repos", 200, textPrivate).join("\n")).toMatch(/private/);
  });

  it("Gitea: a user whose id is text, or a repository whose permissions are not booleans, breaks the swagger", () => {
    const gitea = ApiContract.gitea();
    expect(gitea.checkAnswer("GET", "/api/v1/user", 200, { id: 7, login: "gitty" })).toEqual([]);
    expect(gitea.checkAnswer("GET", "/api/v1/user", 200, { id: "7", login: "gitty" }).join("\n")).toMatch(/id/);
    expect(gitea.checkAnswer("GET", "/api/v1/repos/acme/x", 200, { full_name: "acme/x", permissions: { push: "true" } }).join("\n")).toMatch(/push/);
    expect(gitea.checkAnswer("GET", "/api/v1/user/nope/nope", 200, {})).toEqual(["GET /user/nope/nope is not in the API description"]);
  });
});
