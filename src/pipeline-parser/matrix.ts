/** At most this many instances per matrix stage, and per pipeline. */
export const MAX_MATRIX_INSTANCES = 256;
export const MAX_PIPELINE_INSTANCES = 1000;

export type MatrixValues = Record<string, (string | number | boolean)[]>;
export type MatrixCombo = Record<string, string>;

/** The cartesian product in declared order: the first axis varies slowest. */
export function expandMatrix(matrix: MatrixValues): MatrixCombo[] {
  let combos: MatrixCombo[] = [{}];
  for (const [axis, values] of Object.entries(matrix)) {
    const next: MatrixCombo[] = [];
    for (const combo of combos) for (const v of values) next.push({ ...combo, [axis]: String(v) });
    combos = next;
  }
  return combos;
}

/** Number of instances a matrix expands to, without expanding it. */
export function matrixSize(matrix: MatrixValues): number {
  return Object.values(matrix).reduce((n, values) => n * values.length, 1);
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

/** Problems with the `${{ ... }}` expressions in `text`, for a stage with these matrix keys (null: no matrix). */
export function substitutionProblems(text: string, keys: readonly string[] | null): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(EXPRESSION)) {
    const ref = MATRIX_REF.exec(m[1] ?? "");
    if (!ref) {
      problems.push(`unsupported expression ${JSON.stringify(m[0])}: only \${{ matrix.KEY }} is substituted`);
    } else if (keys === null) {
      problems.push(`${JSON.stringify(m[0])} used in a stage without a matrix`);
    } else if (!keys.includes(ref[1] ?? "")) {
      const known = keys.length > 0 ? ` (matrix keys: ${keys.join(", ")})` : "";
      problems.push(`unknown matrix key ${JSON.stringify(ref[1])} in ${JSON.stringify(m[0])}${known}`);
    }
  }
  return problems;
}

/** Replaces `${{ matrix.KEY }}` with the instance's value; the text was checked before. */
export function substitute(text: string, combo: MatrixCombo | null): string {
  if (!combo) return text;
  return text.replace(EXPRESSION, (whole, inner: string) => {
    const ref = MATRIX_REF.exec(inner);
    const key = ref?.[1];
    return key !== undefined && key in combo ? (combo[key] ?? whole) : whole;
  });
}
