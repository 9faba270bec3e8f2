/** DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the docker CLI reads them, checked at start with the variable's name. */
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dockerConnectionOf } from "../../src/providers/docker-connection.js";
import { ConfigError } from "../../src/server/config.js";

describe("docker connection", () => {
  it("defaults to the local socket, and takes unix:// paths", () => {
    expect(dockerConnectionOf({})).toEqual({ options: { socketPath: "/var/run/docker.sock" }, describe: "unix:///var/run/docker.sock" });
    expect(dockerConnectionOf({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }).options).toEqual({ socketPath: "/run/user/1000/docker.sock" });
  });

  it("tcp:// without DOCKER_TLS_VERIFY is plain HTTP, and says so", () => {
    const c = dockerConnectionOf({ DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_TLS_VERIFY: "0" });
    expect(c.options).toEqual({ host: "127.0.0.1", port: 2375, protocol: "http" });
    expect(c.describe).toBe("tcp://127.0.0.1:2375 without TLS");
  });

  it("tcp:// with DOCKER_TLS_VERIFY presents the client certificate of DOCKER_CERT_PATH and checks the engine against its ca.pem", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-certs-"));
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) await writeFile(path.join(dir, f), `contents of ${f}`);
    const c = dockerConnectionOf({ DOCKER_HOST: "tcp://[::1]:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
    expect(c.options).toMatchObject({ host: "::1", port: 2376, protocol: "https" });
    expect(c.options.ca).toEqual(Buffer.from("contents of ca.pem"));
    expect(c.options.cert).toEqual(Buffer.from("contents of cert.pem"));
    expect(c.options.key).toEqual(Buffer.from("contents of key.pem"));
    expect(c.describe).toBe(`tcp://[::1]:2376 with TLS (certificates in ${dir})`);
  });

  it("a missing certificate is a configuration error naming DOCKER_CERT_PATH and the file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-certs-"));
    await writeFile(path.join(dir, "ca.pem"), "ca");
    const call = () => dockerConnectionOf({ DOCKER_HOST: "tcp://127.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(`DOCKER_CERT_PATH: DOCKER_TLS_VERIFY is set, so ${path.join(dir, "cert.pem")} must be readable (ENOENT)`);
  });

  it("refuses what it cannot use, naming DOCKER_HOST", () => {
    for (const bad of ["ssh://me@host", "tcp://127.0.0.1", "tcp://host:2376/path", "127.0.0.1:2375"]) {
      expect(() => dockerConnectionOf({ DOCKER_HOST: bad }), bad).toThrow(/^DOCKER_HOST: /);
    }
  });
});
