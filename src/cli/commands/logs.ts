/** `hodei logs RUN [STAGE]`: a stage's log (or every stage's, in plan order); `--follow` streams one stage until it ends. */
import { ApiClient } from "../api-client.js";
import { UsageError } from "../usage-error.js";

export async function logsCommand(o: {
  server: string;
  token?: string;
  run: string;
  stage?: string;
  follow: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}): Promise<number> {
  const api = new ApiClient(o.server, o.token);
  if (o.follow) {
    if (!o.stage) throw new UsageError("--follow needs a STAGE: hodei logs RUN STAGE --follow");
    const conclusion = await api.followLog(o.run, o.stage, (e) => {
      if (e.event === "log" && e.data.data !== undefined) o.stdout.write(e.data.data);
      else if (e.event === "attempt" && (e.data.attempt ?? 1) > 1) o.stderr.write(`-- attempt ${e.data.attempt} --\n`);
    });
    o.stderr.write(`-- ${o.stage}: ${conclusion ?? "ended"} --\n`);
    return conclusion === "success" || conclusion === "skipped" ? 0 : 1;
  }
  if (o.stage) {
    o.stdout.write(await api.stageLog(o.run, o.stage));
    return 0;
  }
  const run = await api.getRun(o.run);
  for (const s of run.stages ?? []) {
    o.stdout.write(`== ${s.id} (${s.conclusion ?? s.status}, attempt ${s.attempt}) ==\n`);
    o.stdout.write(await api.stageLog(o.run, s.id));
  }
  return 0;
}
