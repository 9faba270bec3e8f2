/** `hodei runs`: the server's runs, newest first, as a table or JSON. */
import { ApiClient } from "../api-client.js";
import { formatDuration, stateOf, table } from "../table.js";
import { UsageError } from "../usage-error.js";

export async function runsCommand(o: { server: string; token?: string; repo?: string; limit: string; json: boolean; stdout: NodeJS.WritableStream }): Promise<number> {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit must be an integer from 1 to 500, got ${o.limit}`);
  const page = await new ApiClient(o.server, o.token).listRuns({ repo: o.repo, limit });
  if (o.json) {
    o.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
    return 0;
  }
  if (page.runs.length === 0) {
    o.stdout.write(o.repo ? `no runs for ${o.repo}\n` : "no runs\n");
    return 0;
  }
  o.stdout.write(
    table(
      ["ID", "STATUS", "REPO", "REF", "COMMIT", "EVENT", "DURATION", "CREATED"],
      page.runs.map((r) => [
        r.id,
        stateOf(r),
        r.repo,
        (r.ref ?? "").replace(/^refs\/(heads|tags)\//, ""),
        r.sha.slice(0, 7),
        r.event,
        formatDuration(r.startedAt, r.finishedAt),
        r.createdAt.replace("T", " ").slice(0, 19),
      ]),
    ),
  );
  return 0;
}
