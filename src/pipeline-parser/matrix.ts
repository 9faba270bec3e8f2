import type { MatrixDefinition, MatrixEntry, MatrixValue } from "./types.js";

/** At most this many instances per matrix stage, and per pipeline. */
export const MAX_MATRIX_INSTANCES = 256;
export const MAX_PIPELINE_INSTANCES = 1000;

export type MatrixValues = MatrixDefinition;
export type MatrixCombo = Record<string, string>;

/** Keys of a matrix that are not axes. */
export const MATRIX_RESERVED = ["include", "exclude"] as const;

/** The axes of a matrix, in declared order. */
export function matrixAxes(matrix: MatrixDefinition): [string, MatrixValue[]][] {
  return Object.entries(matrix).filter(
    (e): e is [string, MatrixValue[]] => !(MATRIX_RESERVED as readonly string[]).includes(e[0]) && Array.isArray(e[1]),
  );
}

/**
 * The combinations, as GitHub Actions forms them: the cartesian product of
 * the axes in declared order (the first axis varies slowest), less those
 * matching an `exclude` entry (every key of the entry equal), then each
 * `include` entry is merged into every remaining product combination whose
 * axis values it does not contradict (adding its other keys), or, when it
 * fits none, added as a combination of its own.
 */
export function expandMatrix(matrix: MatrixDefinition): MatrixCombo[] {
  const axes = matrixAxes(matrix);
  let combos: MatrixCombo[] = axes.length > 0 ? [{}] : [];
  for (const [axis, values] of axes) {
    const next: MatrixCombo[] = [];
    for (const combo of combos) for (const v of values) next.push({ ...combo, [axis]: String(v) });
    combos = next;
  }
  const excludes = (matrix.exclude ?? []).map(asCombo);
  combos = combos.filter((c) => !excludes.some((e) => matches(c, e)));
  const axisNames = new Set(axes.map(([a]) => a));
  const product = combos.length;
  for (const entry of (matrix.include ?? []).map(asCombo)) {
    const onAxes = Object.entries(entry).filter(([k]) => axisNames.has(k));
    let merged = false;
    for (const combo of combos.slice(0, product)) {
      if (!onAxes.every(([k, v]) => combo[k] === v)) continue;
      for (const [k, v] of Object.entries(entry)) if (!axisNames.has(k)) combo[k] = v;
      merged = true;
    }
    if (!merged) combos.push({ ...entry });
  }
  return combos;
}

/** Size of the product of the axes, before `exclude` and `include`, without expanding it. */
export function matrixProduct(matrix: MatrixDefinition): number {
  return matrixAxes(matrix).reduce((n, [, values]) => n * values.length, 1);
}

/** Number of instances a matrix expands to; the product is not expanded when it alone is far over the limit. */
export function matrixSize(matrix: MatrixDefinition): number {
  const product = matrixProduct(matrix);
  if (product > MAX_MATRIX_INSTANCES * 16) return product;
  return expandMatrix(matrix).length;
}

/** Every key `${{ matrix.KEY }}` may name: the axes, then the keys `include` adds. */
export function matrixKeys(matrix: MatrixDefinition): string[] {
  const keys = matrixAxes(matrix).map(([a]) => a);
  for (const entry of matrix.include ?? []) for (const k of Object.keys(entry)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function asCombo(entry: MatrixEntry): MatrixCombo {
  return Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
}

function matches(combo: MatrixCombo, entry: MatrixCombo): boolean {
  return Object.entries(entry).every(([k, v]) => combo[k] === v);
}

/** `test[node=18,db=pg]` for a matrix instance, else the stage name. */
export function instanceId(name: string, combo: MatrixCombo | null): string {
  if (!combo) return name;
  return `${name}[${Object.entries(combo)
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}]`;
}

const EXPRESSION = /\$\{\{(.*?)\}\}/gs;
const MATRIX_REF = /^\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*$/;
const INPUT_REF = /^\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*$/;

/**
 * Problems with the `${{ ... }}` expressions in `text`, for a stage with these
 * matrix keys (null: no matrix) in a pipeline declaring these inputs (null:
 * the declarations failed the schema, so references to them are not judged).
 */
export function substitutionProblems(text: string, keys: readonly string[] | null, inputs: readonly string[] | null = []): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(EXPRESSION)) {
    const inner = m[1] ?? "";
    const input = INPUT_REF.exec(inner);
    if (input) {
      if (inputs !== null && !inputs.includes(input[1] ?? "")) {
        const known = inputs.length > 0 ? ` (inputs: ${inputs.join(", ")})` : " (no on.manual.inputs are declared)";
        problems.push(`unknown input ${JSON.stringify(input[1])} in ${JSON.stringify(m[0])}${known}`);
      }
      continue;
    }
    const ref = MATRIX_REF.exec(inner);
    if (!ref) {
      problems.push(`unsupported expression ${JSON.stringify(m[0])}: only \${{ matrix.KEY }} and \${{ inputs.NAME }} are substituted`);
    } else if (keys === null) {
      problems.push(`${JSON.stringify(m[0])} used in a stage without a matrix`);
    } else if (!keys.includes(ref[1] ?? "")) {
      const known = keys.length > 0 ? ` (matrix keys: ${keys.join(", ")})` : "";
      problems.push(`unknown matrix key ${JSON.stringify(ref[1])} in ${JSON.stringify(m[0])}${known}`);
    }
  }
  return problems;
}

/**
 * Replaces `${{ matrix.KEY }}` with the instance's value and `${{ inputs.NAME }}`
 * with the run's input; the text was checked before. A key that only some
 * `include` entries add is empty in the others.
 */
export function substitute(text: string, combo: MatrixCombo | null, inputs: Readonly<Record<string, string>> = {}): string {
  return text.replace(EXPRESSION, (whole, inner: string) => {
    const input = INPUT_REF.exec(inner)?.[1];
    if (input !== undefined) return inputs[input] ?? "";
    const key = combo ? MATRIX_REF.exec(inner)?.[1] : undefined;
    return key !== undefined && combo ? (combo[key] ?? "") : whole;
  });
}
