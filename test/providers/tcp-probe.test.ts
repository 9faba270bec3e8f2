import net from "node:net";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { probeTcp } from "../../src/providers/tcp-probe.js";

describe("the agent image's --probe-tcp (a service's port readiness)", () => {
  it("exits 0 once the port accepts a connection, also one that starts listening late", async () => {
    const server = net.createServer((s) => s.end());
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, "127.0.0.1", () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    setTimeout(() => server.listen(port, "127.0.0.1"), 600);
    try {
      expect(await probeTcp(`127.0.0.1:${port}`, 10_000, new PassThrough())).toBe(0);
    } finally {
      server.close();
    }
  });

  it("exits 1 after the timeout, saying why, and 2 for a bad target", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    // Port 1 on loopback: nothing listens there.
    expect(await probeTcp("127.0.0.1:1", 600, out)).toBe(1);
    expect(text).toBe("127.0.0.1:1 accepted no connection within 1 s: ECONNREFUSED\n");
    expect(await probeTcp("no-port", 600, new PassThrough())).toBe(2);
  });
});
