/**
 * `runs-on`: the agent labels a stage needs. `gpu` asks for an agent with
 * label `gpu` (any value: `hodei agent --label gpu` gives it `true`),
 * `arch=arm64` for one whose `arch` is `arm64`. The scheduler (agent-pool.ts)
 * leases the stage only to an agent that has every label.
 */
export const AGENT_LABEL = /^[A-Za-z0-9][A-Za-z0-9_./-]*(=[^\s=]+)?$/;

/** `runs-on` as written (one label or a list) as a list. */
export function runsOnList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

/** True when `labels` (an agent's) has every label `required` names. */
export function labelsSatisfy(required: readonly string[], labels: Readonly<Record<string, string>>): boolean {
  return required.every((label) => {
    const eq = label.indexOf("=");
    if (eq < 0) return Object.hasOwn(labels, label);
    return labels[label.slice(0, eq)] === label.slice(eq + 1);
  });
}
