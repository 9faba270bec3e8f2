import type { Plan } from "../../pipeline-parser/types.js";

/** A readable table of a plan: one row per stage instance, in run order. */
export function formatPlan(plan: Plan, trigger: string): string {
  const schedules = plan.schedules.map((s) => `schedule: "${s.cron}" (${s.timezone}) runs ${s.branch}\n`).join("");
  if (!plan.triggered) return `pipeline ${plan.name}: not triggered by ${trigger}\n${schedules}`;
  const instancesOf = new Map<string, number>();
  for (const s of plan.stages) instancesOf.set(s.name, (instancesOf.get(s.name) ?? 0) + 1);
  const byId = new Map(plan.stages.map((s) => [s.id, s]));
  const rows = plan.stages.map((s) => {
    // `test` for "every instance of test", instance ids otherwise.
    const needed = new Map<string, string[]>();
    for (const id of s.needs) {
      const name = byId.get(id)?.name ?? id;
      needed.set(name, [...(needed.get(name) ?? []), id]);
    }
    const needs = [...needed].map(([name, ids]) => (ids.length === instancesOf.get(name) ? name : ids.join(", "))).join(", ");
    const provider = s.image ? `${s.provider} (${s.image})` : s.provider;
    return [s.id, needs || "-", s.skip ? "skip" : "run", provider, s.commands.map((c) => c.split("\n")[0] ?? "").join("; ")];
  });
  const header = ["STAGE", "NEEDS", "", "PROVIDER", "COMMANDS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [`pipeline ${plan.name}: ${plan.stages.length} stage${plan.stages.length === 1 ? "" : "s"} for ${trigger}`, line(header), ...rows.map(line)];
  return `${out.join("\n")}\n${schedules}`;
}
