/**
 * The agent's channel to a server dialled by IP address: no IP in the TLS
 * server name (RFC 6066, Node's DEP0123), and the server's certificate is
 * still checked against the address dialled.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { hostOf, serverClient } from "../../src/agent/server-channel.js";
import { agentServiceDefinition, protocolMetadata, type RegisterResponse } from "../../src/grpc/protocol.js";
import { agentServerCredentials } from "../../src/grpc/tls.js";
import { issueServerCertificate, loadOrCreateCa } from "../../src/pki/ca.js";
import { tempDir } from "../helpers/databases.js";

const servers: grpc.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.forceShutdown();
});

/** A server whose Register answers with a fixed agent id, over TLS for `names`. */
async function serverFor(names: string[]): Promise<{ port: number; caPem: string }> {
  const ca = await loadOrCreateCa(await tempDir("hodei-ca-"));
  const server = new grpc.Server();
  // Methods left out answer UNIMPLEMENTED.
  server.addService(agentServiceDefinition(), {
    Register: (_call: unknown, cb: (e: null, r: Partial<RegisterResponse>) => void) => cb(null, { agentId: "a-1" }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", agentServerCredentials({ caPem: ca.certPem, ...issueServerCertificate(ca, names) }), (e, p) => (e ? reject(e) : resolve(p))),
  );
  servers.push(server);
  return { port, caPem: ca.certPem };
}

function register(address: string, caPem: string): Promise<RegisterResponse> {
  const client = serverClient(address, caPem);
  return new Promise<RegisterResponse>((resolve, reject) =>
    client.register({ token: "t", hostname: "h", labels: {}, capacity: 1, csrPem: "" }, protocolMetadata(), (e, r) => {
      client.close();
      if (e) reject(e);
      else resolve(r!);
    }),
  );
}

describe("the agent's channel to the server", () => {
  it("reaches a server dialled by IP over TLS without sending the IP as the server name", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on("warning", onWarning);
    try {
      const { port, caPem } = await serverFor(["127.0.0.1", "localhost"]);
      const answer = await register(`127.0.0.1:${port}`, caPem);
      expect(answer.agentId).toBe("a-1");
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings).not.toContain("DEP0123");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("refuses a server whose certificate does not name the address dialled", async () => {
    const { port, caPem } = await serverFor(["some-other-host"]);
    await expect(register(`127.0.0.1:${port}`, caPem)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it("splits host and port for names, IPv4 and bracketed IPv6", () => {
    expect(hostOf("127.0.0.1:9090")).toBe("127.0.0.1");
    expect(hostOf("hodei.example:9090")).toBe("hodei.example");
    expect(hostOf("[::1]:9090")).toBe("::1");
    expect(hostOf("::1")).toBe("::1");
    expect(hostOf("hodei.example")).toBe("hodei.example");
  });
});
