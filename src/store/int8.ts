/**
 * One behaviour for `int8` (bigint) on both adapters: a JS number.
 *
 * pg leaves int8 as a string and PGlite returns a number or a BigInt depending
 * on the value; neither is what callers want for counts, sequence numbers and
 * ids. A value outside the safe-integer range would lose precision silently,
 * so it throws instead.
 */

export const INT8_OID = 20;
export const INT8_ARRAY_OID = 1016;

export class Int8RangeError extends RangeError {
  override readonly name = "Int8RangeError";
  constructor(readonly text: string) {
    super(`int8 value ${text} is outside JavaScript's safe integer range`);
  }
}

export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Int8RangeError(text);
  return n;
}
