/** `hodei rerun RUN [STAGE]` (`--failed`): re-runs a stage, the failed stages, or the whole run, with their dependents. */
import { ApiClient } from "../api-client.js";
import { UsageError } from "../usage-error.js";

export async function rerunCommand(o: {
  server: string;
  token: string | undefined;
  run: string;
  stage?: string;
  failed: boolean;
  json: boolean;
  stdout: NodeJS.WritableStream;
}): Promise<number> {
  if (o.stage && o.failed) throw new UsageError("give a STAGE or --failed, not both");
  const res = await new ApiClient(o.server, o.token).rerun(o.run, { stage: o.stage, failed: o.failed });
  o.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `re-running in run ${res.id}: ${res.stages.join(", ")}\n`);
  return 0;
}
