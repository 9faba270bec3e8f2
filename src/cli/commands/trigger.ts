/**
 * `hodei trigger REPO REF [--sha SHA] [--input NAME=VALUE]...`: a manual run
 * on a server (POST /api/runs), with the pipeline's `on.manual.inputs`; the
 * server checks them against their types and names each wrong one.
 */
import { ApiClient } from "../api-client.js";
import { inputPairs } from "../input-pairs.js";

export interface TriggerCommandOptions {
  server: string;
  token: string | undefined;
  repo: string;
  ref: string;
  sha?: string;
  inputs: readonly string[];
  json: boolean;
  stdout: NodeJS.WritableStream;
}

export async function triggerCommand(o: TriggerCommandOptions): Promise<number> {
  // `main` is what people type; the API takes full refs.
  const ref = o.ref.startsWith("refs/") ? o.ref : `refs/heads/${o.ref}`;
  const inputs = inputPairs(o.inputs);
  const res = await new ApiClient(o.server, o.token).startRun({ repo: o.repo, ref, ...(o.sha ? { sha: o.sha } : {}), ...(o.inputs.length > 0 ? { inputs } : {}) });
  o.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `started run ${res.id}\n`);
  return 0;
}
