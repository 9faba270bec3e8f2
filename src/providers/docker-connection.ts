/**
 * Where the docker provider finds its engine, from the variables the docker
 * CLI reads: DOCKER_HOST (`unix:///path` or `tcp://host:port`; default the
 * local socket), DOCKER_TLS_VERIFY (any value but empty or 0: TLS with the
 * engine's certificate checked against ca.pem and our client certificate
 * presented), DOCKER_CERT_PATH (the directory of ca.pem, cert.pem and
 * key.pem; default ~/.docker). Checked once at start: a missing certificate
 * or a URL dockerode cannot use fails with the variable's name, rather than
 * as a TLS error at the first stage.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { ConfigError } from "../server/config.js";

export interface DockerConnection {
  /** dockerode's constructor options. */
  options: Docker.DockerOptions;
  /** For messages: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376 with TLS (certificates in /etc/hodei/docker)`. */
  describe: string;
}

const DEFAULT_SOCKET = "/var/run/docker.sock";

export function dockerConnectionOf(env: NodeJS.ProcessEnv = process.env): DockerConnection {
  const raw = env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length) || DEFAULT_SOCKET;
    return { options: { socketPath }, describe: `unix://${socketPath}` };
  }
  if (!raw.startsWith("tcp://")) {
    throw new ConfigError("DOCKER_HOST", `expected unix:///PATH or tcp://HOST:PORT, got ${JSON.stringify(raw)}`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("DOCKER_HOST", `not a URL: ${JSON.stringify(raw)}`);
  }
  if (!url.hostname || !url.port || (url.pathname !== "" && url.pathname !== "/")) {
    throw new ConfigError("DOCKER_HOST", `expected tcp://HOST:PORT, got ${JSON.stringify(raw)}`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const endpoint = `tcp://${url.host}`;
  const verify = env.DOCKER_TLS_VERIFY ?? "";
  if (verify === "" || verify === "0") {
    return { options: { host, port: Number(url.port), protocol: "http" }, describe: `${endpoint} without TLS` };
  }
  const certDir = env.DOCKER_CERT_PATH || path.join(os.homedir(), ".docker");
  const read = (file: string): Buffer => {
    const where = path.join(certDir, file);
    try {
      return readFileSync(where);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigError("DOCKER_CERT_PATH", `DOCKER_TLS_VERIFY is set, so ${where} must be readable (${code}); it holds ${file === "ca.pem" ? "the CA that signed the engine's certificate" : "this server's client certificate"}`);
    }
  };
  return {
    options: { host, port: Number(url.port), protocol: "https", ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") },
    describe: `${endpoint} with TLS (certificates in ${certDir})`,
  };
}
