/** `hodei cancel RUN` */
import { ApiClient } from "../api-client.js";

export async function cancelCommand(o: { server: string; token: string | undefined; run: string; json: boolean; stdout: NodeJS.WritableStream }): Promise<number> {
  const res = await new ApiClient(o.server, o.token).cancel(o.run);
  o.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `cancelling run ${res.id}\n`);
  return 0;
}
