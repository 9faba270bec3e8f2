/**
 * The terminal view of a run for `hodei run`: a line per stage state change
 * and the stages' output prefixed by the stage id, like `docker compose up`.
 */
import type { AttemptRef, LogChunk } from "../engine/ports.js";
import type { RunEvent } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";

export interface ProgressOptions {
  out: NodeJS.WritableStream;
  color: boolean;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
const PALETTE = ["cyan", "magenta", "blue", "yellow", "green"] as const;

export class ProgressPrinter {
  private readonly partial = new Map<string, string>();
  private readonly width: number;

  constructor(
    private readonly options: ProgressOptions,
    stageIds: readonly string[],
  ) {
    this.width = Math.min(28, Math.max(8, ...stageIds.map((id) => id.length)));
    this.stageIds = stageIds;
  }

  private readonly stageIds: readonly string[];

  onEvents(state: RunState, events: readonly RunEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case "attempt.started": {
          const attempt = e.data.attempt > 1 ? ` (attempt ${e.data.attempt})` : "";
          this.line(e.data.stageId, this.paint("bold", `▶ started${attempt}`));
          break;
        }
        case "attempt.finished": {
          this.flushPartial({ runId: state.id, stageId: e.data.stageId, attempt: e.data.attempt });
          if (e.data.outcome !== "success") {
            const why = e.data.reason ? `: ${e.data.reason}` : "";
            this.line(e.data.stageId, this.paint("gray", `attempt ${e.data.attempt} ended ${e.data.outcome}${why}`));
          }
          break;
        }
        case "stage.completed": {
          const s = state.stages.get(e.data.stageId);
          const took = s?.startedAt && s.finishedAt ? ` in ${seconds(s.startedAt, s.finishedAt)}` : "";
          const why = e.data.reason && e.data.conclusion !== "success" ? ` (${e.data.reason})` : "";
          this.line(e.data.stageId, this.conclusion(e.data.conclusion) + took + why);
          break;
        }
        case "run.cancel_requested":
          this.options.out.write(this.paint("yellow", `cancelling: ${e.data.reason}\n`));
          break;
        default:
          break;
      }
    }
  }

  onLogs(ref: AttemptRef, chunks: readonly LogChunk[]): void {
    const key = `${ref.stageId}#${ref.attempt}`;
    let text = (this.partial.get(key) ?? "") + chunks.map((c) => c.data).join("");
    const lines = text.split("\n");
    text = lines.pop() ?? "";
    this.partial.set(key, text);
    for (const l of lines) this.line(ref.stageId, l.replace(/\r$/, ""));
  }

  summary(state: RunState): void {
    const out = this.options.out;
    out.write("\n");
    for (const s of state.stages.values()) {
      const took = s.startedAt && s.finishedAt ? seconds(s.startedAt, s.finishedAt) : "";
      out.write(`  ${this.conclusion(s.conclusion ?? "skipped").padEnd(this.options.color ? 21 : 12)} ${s.plan.id.padEnd(this.width)} ${took}\n`);
    }
    const took = state.finishedAt ? ` in ${seconds(state.createdAt, state.finishedAt)}` : "";
    out.write(`\n${this.paint("bold", `pipeline ${state.meta.pipeline}:`)} ${this.conclusion(state.conclusion ?? "failure")}${took}  (run ${state.id})\n`);
  }

  private flushPartial(ref: AttemptRef): void {
    const key = `${ref.stageId}#${ref.attempt}`;
    const rest = this.partial.get(key);
    if (rest) this.line(ref.stageId, rest);
    this.partial.delete(key);
  }

  private line(stageId: string, text: string): void {
    const index = Math.max(0, this.stageIds.indexOf(stageId));
    const color = PALETTE[index % PALETTE.length] ?? "cyan";
    this.options.out.write(`${this.paint(color, stageId.padEnd(this.width))} │ ${text}\n`);
  }

  private conclusion(c: string): string {
    const mark = c === "success" ? "✓" : c === "skipped" ? "○" : c === "cancelled" ? "⊘" : "✗";
    const color = c === "success" ? "green" : c === "skipped" || c === "cancelled" ? "gray" : "red";
    return this.paint(color, `${mark} ${c}`);
  }

  private paint(color: keyof typeof CODES, text: string): string {
    return this.options.color ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text;
  }
}

function seconds(from: string, to: string): string {
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s`;
}
