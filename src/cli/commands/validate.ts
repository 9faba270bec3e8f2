import { validatePipeline } from "../../pipeline-parser/index.js";

export interface ValidateCommandOptions {
  path: string;
  json: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd?: string;
}

/**
 * `hodei validate [PATH]`: exit 0 if the pipeline is valid, 1 if not, with
 * each error as `FILE:LINE:COL: message` on stderr, or `{valid, errors}` on stdout with --json.
 */
export async function validateCommand(opts: ValidateCommandOptions): Promise<number> {
  const { errors } = await validatePipeline(opts.path, undefined, { cwd: opts.cwd });
  if (opts.json) {
    opts.stdout.write(`${JSON.stringify({ valid: errors.length === 0, errors: errors.map((e) => e.toJSON()) })}\n`);
  } else {
    for (const e of errors) opts.stderr.write(`${e.toString()}\n`);
  }
  return errors.length === 0 ? 0 : 1;
}
