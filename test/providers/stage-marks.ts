/**
 * A record, outside the store, of which attempts a stage really started and
 * finished: the stage's commands, inside a container on the host network,
 * call this HTTP listener on 127.0.0.1 with busybox's wget. The crash tests
 * write a marker file instead; a container cannot reach the host's files.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Mark {
  what: "start" | "end";
  runId: string;
  stageId: string;
  attempt: number;
}

export class StageMarks {
  readonly marks: Mark[] = [];
  /** Runs whose stages may go past their gate. */
  private readonly open = new Set<string>();
  private readonly server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const what = url.searchParams.get("what");
    const runId = url.searchParams.get("run") ?? "";
    if (what === "gate") return void res.end(this.open.has(runId) ? "open\n" : "shut\n");
    if (what === "start" || what === "end") {
      this.marks.push({ what, runId, stageId: url.searchParams.get("stage") ?? "", attempt: Number(url.searchParams.get("attempt")) });
    }
    res.end("ok\n");
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private url(what: string): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/?what=${what}&run=$HODEI_RUN_ID&stage=$HODEI_STAGE_ID&attempt=$HODEI_ATTEMPT`;
  }

  /** A shell command that records `what` for the running attempt. */
  command(what: Mark["what"]): string {
    return `wget -q -O /dev/null "${this.url(what)}"`;
  }

  /** Commands that mark the start, wait until the test opens the run's gate, and mark the end. */
  gated(): string[] {
    return [this.command("start"), `until wget -q -O - "${this.url("gate")}" | grep -q open; do sleep 0.3; done`, this.command("end")];
  }

  openGate(runId: string): void {
    this.open.add(runId);
  }

  of(runId: string, what?: Mark["what"]): Mark[] {
    return this.marks.filter((m) => m.runId === runId && (what === undefined || m.what === what));
  }
}
