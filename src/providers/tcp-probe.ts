/**
 * `--probe-tcp HOST:PORT`: the agent image's readiness probe for a
 * service's `port`. The docker provider runs it as a short-lived container
 * on the attempt's network, so the connection comes from where the stage's
 * would, whether the engine is local or remote. It connects every 250 ms
 * until one connection is accepted (exit 0) or `timeoutMs` passes (exit 1,
 * printing the last error).
 */
import net from "node:net";

export async function probeTcp(target: string, timeoutMs: number, out: NodeJS.WritableStream = process.stderr): Promise<number> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(target.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    out.write(`--probe-tcp: expected HOST:PORT, got ${JSON.stringify(target)}\n`);
    return 2;
  }
  const until = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const error = await connectOnce(host, port, Math.max(100, Math.min(2000, until - Date.now())));
    if (error === null) return 0;
    last = error;
    if (Date.now() + 250 >= until) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  out.write(`${host}:${port} accepted no connection within ${Math.round(timeoutMs / 1000)} s: ${last}\n`);
  return 1;
}

function connectOnce(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error: string | null): void => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(timeoutMs, () => done(`connecting timed out after ${timeoutMs} ms`));
    socket.once("connect", () => done(null));
    socket.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}
