/**
 * A git smart-HTTP server on 127.0.0.1 for tests: git's own
 * `git http-backend` (CGI) behind a small Node bridge that, like a forge,
 * answers 401 unless the request carries the expected Authorization header.
 * It records each request's path and whether it was let in.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface GitHttpServer {
  url: string;
  requests: { path: string; allowed: boolean }[];
  /** The Authorization header a fetch must carry; changing it turns old credentials away. */
  expectAuthorization: string;
  stop(): Promise<void>;
}

export async function startGitHttpServer(projectRoot: string, expectAuthorization: string): Promise<GitHttpServer> {
  const state: GitHttpServer = { url: "", requests: [], expectAuthorization, stop: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const [pathInfo = "/", query = ""] = (req.url ?? "/").split("?");
    const allowed = req.headers.authorization === state.expectAuthorization;
    state.requests.push({ path: pathInfo, allowed });
    if (!allowed) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="test"' });
      res.end();
      return;
    }
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: pathInfo,
        QUERY_STRING: query,
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        REMOTE_USER: "x-access-token",
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => chunks.push(c));
    cgi.on("close", () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf("\r\n\r\n");
      const head = out.subarray(0, split).toString("latin1");
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.split("\r\n")) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === "status") status = Number(value.split(" ")[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.end(out.subarray(split + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
