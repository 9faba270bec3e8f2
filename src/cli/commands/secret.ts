/**
 * `hodei secret set REPO NAME`: the value comes from stdin, never from the
 * command line (where `ps` and shell history would keep it). One trailing
 * newline is dropped, so `echo "$TOKEN" | hodei secret set ...` stores the token.
 */
import { ApiClient } from "../api-client.js";
import { UsageError } from "../usage-error.js";

export async function secretSetCommand(o: {
  server: string;
  token: string | undefined;
  repo: string;
  name: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
}): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of o.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  if (value === "") throw new UsageError("the secret's value is read from stdin, and stdin was empty");
  await new ApiClient(o.server, o.token).setSecret(o.repo, o.name, value);
  o.stdout.write(`secret ${o.name} set for ${o.repo}\n`);
  return 0;
}
