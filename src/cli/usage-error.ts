/** Bad command-line usage: the CLI prints the message and exits 2 (SPEC 2). */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
