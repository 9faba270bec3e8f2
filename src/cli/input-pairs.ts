/** `--input version=1.2 --input dry-run=true`: values as text; the pipeline's input types decide what they mean. */
import { UsageError } from "./usage-error.js";

export function inputPairs(pairs: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input must be NAME=VALUE, not ${JSON.stringify(pair)}`);
    inputs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return inputs;
}
