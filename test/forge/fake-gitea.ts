/** Gitea's answers for the calls Hodei makes, with its swagger (v1.27.0) checked first. */
import { ApiContract } from "./api-contract.js";
import { FakeForge, type RecordedRequest } from "./fake-forge.js";

let contract: ApiContract | null = null;

export function fakeGitea(): FakeForge {
  contract ??= ApiContract.gitea();
  let nextId = 1;
  // Hodei calls `${HODEI_GITEA_URL}/api/v1/...`; the swagger's basePath is /api/v1.
  return new FakeForge(contract, (req: RecordedRequest) => {
    switch (req.operationId) {
      case "repoCreateStatus":
        return { status: 201, body: { id: nextId++, status: req.body.state as string, context: req.body.context as string } };
      default:
        return { status: 404, body: { message: `fake Gitea does not answer ${req.operationId ?? req.path}` } };
    }
  });
}
