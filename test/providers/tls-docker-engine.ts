/**
 * A second, real Docker engine of the tests' own that listens only on
 * tcp://127.0.0.1:PORT and requires TLS with client certificates
 * (`dockerd --tlsverify`), with its own data root, exec root and containerd,
 * so it shares nothing with the engine on /var/run/docker.sock. The CA, the
 * engine's certificate (for IP 127.0.0.1) and a client certificate are made
 * here with openssl, laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem,
 * key.pem).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { freePort } from "../durability/crash-harness.js";

const run = promisify(execFile);

export interface TlsDockerEngine {
  host: string;
  /** DOCKER_CERT_PATH of a client the engine accepts. */
  certDir: string;
  env: { DOCKER_HOST: string; DOCKER_TLS_VERIFY: string; DOCKER_CERT_PATH: string };
  log: () => string;
  stop(): Promise<void>;
}

export async function startTlsDockerEngine(): Promise<TlsDockerEngine> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-dockerd-tls-"));
  const certDir = path.join(dir, "client");
  await makeCertificates(dir, certDir);
  const port = await freePort();
  let output = "";
  const daemon: ChildProcess = spawn(
    "dockerd",
    [
      `--data-root=${path.join(dir, "root")}`,
      `--exec-root=${path.join(dir, "exec")}`,
      `--pidfile=${path.join(dir, "dockerd.pid")}`,
      `-H=tcp://127.0.0.1:${port}`,
      "--tlsverify",
      `--tlscacert=${path.join(dir, "ca.pem")}`,
      `--tlscert=${path.join(dir, "server-cert.pem")}`,
      `--tlskey=${path.join(dir, "server-key.pem")}`,
      // Nothing of the host's network set-up is touched: stages use host networking.
      "--bridge=none",
      "--iptables=false",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  daemon.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  daemon.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => daemon.once("exit", () => resolve()));
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certDir };
  const stop = async () => {
    if (daemon.exitCode === null) {
      daemon.kill("SIGTERM");
      const killer = setTimeout(() => daemon.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    }
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const { dockerConnectionOf } = await import("../../src/providers/docker-connection.js");
  const docker = new Docker(dockerConnectionOf(env).options);
  for (let i = 0; ; i++) {
    if (daemon.exitCode !== null) {
      await stop();
      throw new Error(`dockerd with TLS exited with ${daemon.exitCode}: ${output.slice(-2000)}`);
    }
    try {
      await docker.ping();
      break;
    } catch (error) {
      if (i >= 120) {
        await stop();
        throw new Error(`dockerd with TLS did not answer on ${env.DOCKER_HOST} within 60 s: ${output.slice(-2000)}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { host: env.DOCKER_HOST, certDir, env, log: () => output, stop };
}

async function makeCertificates(dir: string, certDir: string): Promise<void> {
  const at = (f: string) => path.join(dir, f);
  const ssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("ca-key.pem"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=hodei test CA");
  await writeFile(at("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await writeFile(at("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, ext] of [["server", "server.ext"], ["client", "client.ext"]] as const) {
    await ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", at(`${name}-key.pem`), "-out", at(`${name}.csr`), "-subj", `/CN=${name}`);
    await ssl("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.pem"), "-CAkey", at("ca-key.pem"), "-CAcreateserial", "-out", at(`${name}-cert.pem`), "-days", "2", "-extfile", at(ext));
  }
  await run("mkdir", ["-p", certDir]);
  await run("cp", [at("ca.pem"), path.join(certDir, "ca.pem")]);
  await run("cp", [at("client-cert.pem"), path.join(certDir, "cert.pem")]);
  await run("cp", [at("client-key.pem"), path.join(certDir, "key.pem")]);
}

/** dockerd leaves its network namespace and overlay mounts under its exec and data roots mounted: unmount them, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run("umount", ["-l", m]).catch(() => undefined);
}
