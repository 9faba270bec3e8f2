/** Comment commands (SPEC 5): each line that begins with one counts. */

export type Command =
  | { kind: "retry"; stage: string | null }
  | { kind: "run" }
  | { kind: "cancel" }
  | { kind: "approve" }
  | { kind: "unknown"; text: string };

export function parseCommands(body: string): Command[] {
  const out: Command[] = [];
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^\/retest(\s|$)/.test(line)) {
      out.push({ kind: "retry", stage: null });
      continue;
    }
    const m = /^\/hodei(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const [verb = "", ...args] = (m[1] ?? "").trim().split(/\s+/).filter(Boolean);
    if (verb === "retry" && args.length <= 1) out.push({ kind: "retry", stage: args[0] ?? null });
    else if (verb === "run" && args.length === 0) out.push({ kind: "run" });
    else if (verb === "cancel" && args.length === 0) out.push({ kind: "cancel" });
    else if (verb === "approve" && args.length === 0) out.push({ kind: "approve" });
    else out.push({ kind: "unknown", text: line });
  }
  return out;
}

export const COMMAND_HELP = "`/hodei retry [STAGE]`, `/retest`, `/hodei run`, `/hodei cancel`, `/hodei approve`";
